import ArgumentParser
import Foundation
import Logging
import ModelMesh
import ModelMeshServer
import ServiceLifecycle
import ModelMeshPostgres
import ModelMeshProviders

/// `modelmesh serve`: the OpenAI-compatible proxy.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the OpenAI-compatible proxy.",
        discussion: """
            Point any OpenAI SDK at http://HOST:PORT/v1. Flags win over the 'proxy:' section \
            of the configuration file. SIGTERM or SIGINT shuts down gracefully: in-flight requests \
            and streams finish (within proxy.shutdown_timeout), then observability is flushed.
            """)

    @Option(name: .long, help: "The configuration file (modelmesh.yaml).")
    var config: String?

    @Option(name: .long, help: "The address to listen on (default 127.0.0.1).")
    var host: String?

    @Option(name: .long, help: "The port to listen on (default 8080).")
    var port: Int?

    @Option(name: .customLong("token"), help: "A bearer token clients must send; repeat for several.")
    var tokens: [String] = []

    @Option(
        name: .customLong("admin-token"),
        help: "A bearer token for the operator endpoints (activate, deactivate); repeat for several.")
    var adminTokens: [String] = []

    @Flag(
        name: .long,
        help: "Reload the configuration file when it changes (as SIGHUP does; an invalid file changes nothing).")
    var watch = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: LogLevelArgument = .info

    func validate() throws {
        if let port, !(0...65535).contains(port) {
            throw ValidationError("--port must be between 0 and 65535, got \(port)")
        }
        if tokens.contains(where: \.isEmpty) { throw ValidationError("--token must not be empty") }
        if adminTokens.contains(where: \.isEmpty) { throw ValidationError("--admin-token must not be empty") }
        if watch && config == nil { throw ValidationError("--watch needs --config FILE: there is no file to watch") }
    }

    /// The configuration with the command line's flags applied over the file's `proxy:`.
    static func applyFlags(
        to configuration: inout MeshConfiguration, host: String?, port: Int?, tokens: [String], adminTokens: [String]
    ) {
        if let host { configuration.proxy.host = host }
        if let port { configuration.proxy.port = port }
        if !tokens.isEmpty { configuration.proxy.tokens = tokens.map(Secret.init) }
        if !adminTokens.isEmpty { configuration.proxy.adminTokens = adminTokens.map(Secret.init) }
    }

    func run() async throws {
        let level = logLevel.level
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "modelmesh.proxy")
        if let limit = OpenFileLimit.raiseToHardLimit() {
            if limit.after > limit.before {
                logger.debug("Raised the open-file limit", metadata: ["from": "\(limit.before)", "to": "\(limit.after)"])
            }
            if limit.after < 4096 {
                logger.warning(
                    """
                    The open-file limit is \(limit.after): each stream holds two descriptors, so only about \
                    \(limit.after / 2) concurrent requests fit. Raise it with `ulimit -n` (LimitNOFILE= in a systemd unit).
                    """)
            }
        }
        var demoUpstreams: [Task<Void, any Error>] = []
        defer { for task in demoUpstreams { task.cancel() } }
        let source: MeshSource
        if let config {
            source = try MeshSource.file(config)
        } else if let detected = MeshSource.autodetected() {
            source = detected
        } else {
            let (demo, upstreams) = try await MeshSource.demo()
            source = demo
            demoUpstreams = upstreams
        }
        var configuration = source.configuration
        let (host, port, tokens, adminTokens) = (host, port, tokens, adminTokens)
        Self.applyFlags(to: &configuration, host: host, port: port, tokens: tokens, adminTokens: adminTokens)

        let metrics = PrometheusConnector()
        // The connectors' transport carries the proxy's upstream limits.
        let transport = HTTPTransport(configuration: HTTPTransport.Configuration(limits: configuration.proxy.limits))
        var providers = ProviderRegistry.builtIn(transport: transport)
        providers.sharedStateStore = PostgresStateStore.factory
        let mesh = try Mesh(
            configuration: configuration, providers: providers, observability: .standard(metrics: metrics))
        let proxy = configuration.proxy
        let tracing = try Self.traceExport(configuration, logger: logger)
        var options = ProxyServer.Options()
        options.tracer = tracing.tracer
        options.onServerRunning = { boundPort in
            Self.printBanner(host: proxy.host, port: boundPort, mesh: mesh, auth: !proxy.tokens.isEmpty || !proxy.adminTokens.isEmpty, source: source)
        }
        // SIGHUP (and with --watch, a change of the file) applies the file again.
        var reloading: [any Service] = []
        if case .file(let path) = source.kind {
            let reloader = ConfigurationReloader(mesh: mesh, source: path) {
                var configuration = try MeshSource.file(path).configuration
                Self.applyFlags(to: &configuration, host: host, port: port, tokens: tokens, adminTokens: adminTokens)
                return configuration
            }
            options.reloader = reloader
            reloading.append(ReloadOnSignalService(reloader: reloader))
            if watch { reloading.append(ConfigurationWatchService(reloader: reloader, path: path)) }
        }
        let server = ProxyServer(mesh: mesh, metrics: metrics, options: options, logger: logger)
        try await server.makeServiceGroup(services: tracing.services + reloading).run()
        try? await transport.shutdown()
        try? await BuiltInProviders.shutdown()
    }

    static func printBanner(host: String, port: Int, mesh: Mesh, auth: Bool, source: MeshSource) {
        let pools = mesh.describe().pools.map(\.id).joined(separator: ", ")
        var lines = [
            "ModelMesh proxy listening on http://\(host):\(port)/v1",
            "  pools: \(pools.isEmpty ? "(none)" : pools)",
            "  auth: \(auth ? "bearer token required" : "off")",
        ]
        switch source.kind {
        case .demo:
            lines += [
                "",
                "  This is the built-in DEMO: two simulated OpenAI-compatible upstreams on loopback,",
                "  'demo-primary' (flaky: it fails a burst of requests now and then) and 'demo-backup'.",
                "  Send a few requests and watch the routing events below: retries, a rotation to the",
                "  backup, the primary's deactivation and, 10 seconds later, its recovery.",
                "  For real models, set provider API keys (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...)",
                "  or pass --config modelmesh.yaml.",
            ]
        case .autodetected(let providers):
            lines.append("  providers detected from the environment: \(providers.joined(separator: ", "))")
        case .file(let path):
            lines.append("  configuration: \(path)")
        }
        lines += [
            "",
            "  Try: curl http://\(host):\(port)/v1/chat/completions -H 'content-type: application/json' \\",
            "         -d '{\"model\": \"chat-completion\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}'",
        ]
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}

/// `--log-level` values.
enum LogLevelArgument: String, ExpressibleByArgument, CaseIterable {
    case trace, debug, info, notice, warning, error, critical

    var level: Logger.Level { Logger.Level(rawValue: rawValue) ?? .info }
}

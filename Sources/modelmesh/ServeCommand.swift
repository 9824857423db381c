import ArgumentParser
import Foundation
import Logging
import ModelMesh
import ModelMeshServer
import ModelMeshTesting

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

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: LogLevelArgument = .info

    func validate() throws {
        if let port, !(0...65535).contains(port) {
            throw ValidationError("--port must be between 0 and 65535, got \(port)")
        }
        if tokens.contains(where: \.isEmpty) { throw ValidationError("--token must not be empty") }
    }

    func run() async throws {
        let level = logLevel.level
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let loaded = try Self.loadMesh(configPath: config)
        var configuration = loaded.configuration
        if let host { configuration.proxy.host = host }
        if let port { configuration.proxy.port = port }
        if !tokens.isEmpty { configuration.proxy.tokens = tokens.map(Secret.init) }

        let observability = try ServerObservability.makeConnectors(configuration.observability)
        let mesh = try Mesh(configuration: configuration, providers: loaded.providers)
        for (connector, events) in observability.connectors { mesh.events.subscribe(connector, events: events) }

        let proxy = configuration.proxy
        let demo = loaded.isDemo
        var options = ProxyServer.Options()
        options.onServerRunning = { boundPort in
            Self.printBanner(host: proxy.host, port: boundPort, mesh: mesh, auth: !proxy.tokens.isEmpty, demo: demo)
        }
        let server = ProxyServer(
            mesh: mesh, metrics: observability.prometheus ?? PrometheusConnector(), options: options,
            logger: Logger(label: "modelmesh.proxy"))
        try await server.runService()
    }

    /// What ``loadMesh(configPath:)`` produces.
    struct LoadedMesh {
        var configuration: MeshConfiguration
        var providers: ProviderRegistry
        /// The built-in demo (no configuration given).
        var isDemo: Bool
    }

    /// Loads the mesh configuration and the provider registry: the one place where
    /// `serve` learns what to route to.
    static func loadMesh(configPath: String?) throws -> LoadedMesh {
        if let configPath {
            // TODO(config): call ConfigurationLoader (YAML) and BuiltInProviders once they land.
            throw ValidationError(
                "Loading '\(configPath)' needs the YAML configuration loader, which this build does not have yet")
        }
        // TODO(autodetect): ProviderAutoDetection from API-key environment variables goes here,
        // falling back to the demo below when nothing is detected.
        return demoMesh()
    }

    // DEMO: an in-process simulated mesh (two scripted providers) so `modelmesh serve` works
    // with no keys and no configuration. Swap in the loopback demo upstreams here.
    static func demoMesh() -> LoadedMesh {
        var configuration = MeshConfiguration()
        var registry = ProviderRegistry()
        let primary = MockProvider(
            fallback: .stream(
                ["Hello", " from", " the", " ModelMesh", " demo", " (primary)."], pieceDelay: .milliseconds(40)))
        let backup = MockProvider(
            fallback: .stream(
                ["Hello", " from", " the", " ModelMesh", " demo", " (backup)."], pieceDelay: .milliseconds(40)))
        for (provider, mock) in [("demo-primary", primary), ("demo-backup", backup)] {
            configuration.providers.append(ProviderConfiguration(id: provider, connector: "modelmesh.simulated.v1"))
            registry.register(provider: provider, instance: mock)
        }
        configuration.models = [
            ModelConfiguration(
                id: "demo.primary-chat", provider: "demo-primary",
                capabilities: ["generation.text-generation.chat-completion"]),
            ModelConfiguration(
                id: "demo.backup-chat", provider: "demo-backup",
                capabilities: ["generation.text-generation.chat-completion"]),
            ModelConfiguration(
                id: "demo.embed", provider: "demo-backup",
                capabilities: ["representation.embeddings.text-embeddings"]),
        ]
        configuration.pools = [
            PoolConfiguration(id: "chat-completion", capability: "chat-completion"),
            PoolConfiguration(id: "text-embeddings", capability: "text-embeddings"),
        ]
        configuration.observability.connectors = []
        return LoadedMesh(configuration: configuration, providers: registry, isDemo: true)
    }

    static func printBanner(host: String, port: Int, mesh: Mesh, auth: Bool, demo: Bool) {
        let pools = mesh.describe().pools.map(\.id).joined(separator: ", ")
        var lines = [
            "ModelMesh proxy listening on http://\(host):\(port)/v1",
            "  pools: \(pools.isEmpty ? "(none)" : pools)",
            "  auth: \(auth ? "bearer token required" : "off")",
        ]
        if demo {
            lines += [
                "",
                "  This is the built-in DEMO: answers come from simulated in-process providers.",
                "  For real models, set provider API keys (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...)",
                "  or pass --config modelmesh.yaml.",
            ]
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

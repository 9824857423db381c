import Foundation
import Hummingbird
import Logging
import ModelMesh
import ModelMeshProviders
import NIOCore
import ServiceLifecycle
import Tracing
import UnixSignals

/// The OpenAI-compatible HTTP proxy over a ``Mesh``: a Hummingbird application run as a
/// swift-service-lifecycle `Service`.
///
/// Any OpenAI SDK or `curl` pointed at its base URL routes through the mesh. On graceful
/// shutdown (SIGTERM/SIGINT with ``runService(gracefulShutdownSignals:)``, or the
/// enclosing `ServiceGroup`) it stops accepting connections, ends the `/v1/mesh/events`
/// streams, lets in-flight requests and streams finish within
/// ``ProxyConfiguration/shutdownTimeout``, then shuts the mesh down so observability is
/// flushed.
///
/// ```swift
/// let mesh = try Mesh(configuration: config, providers: registry)
/// let server = ProxyServer(mesh: mesh)
/// try await server.runService()
/// ```
public struct ProxyServer: Service, CustomStringConvertible {
    /// Settings beyond ``ProxyConfiguration`` that tests and embedders may want to change.
    public struct Options: Sendable {
        /// How often idle event streams get a keep-alive comment.
        public var heartbeatInterval: Duration = .seconds(15)
        /// Called with the bound port once the server listens (useful with port 0).
        public var onServerRunning: @Sendable (Int) async -> Void = { _ in }
        /// Where `POST /v1/mesh/reload` reads the configuration again (nil: the endpoint
        /// answers that there is nothing to reload from).
        public var reloader: ConfigurationReloader?
        /// Where request and attempt spans go; nil: the tracer bootstrapped with
        /// `InstrumentationSystem`, if any (see `MeshTracing` and `ModelMeshOTel`).
        public var tracer: (any Tracer)? = nil

        public init() {}
    }

    /// The mesh the proxy routes through; the server shuts it down when it stops.
    public let mesh: Mesh
    /// Host, port, tokens, CORS, limits.
    public let configuration: ProxyConfiguration
    /// The `modelmesh.prometheus.v1` connector behind `GET /metrics`.
    public let metrics: PrometheusConnector
    public let options: Options
    let logger: Logger
    let handlers: ProxyHandlers
    /// The chat and embeddings requests in flight (see ``HotRoutes``).
    let hotRouteTasks = HotRouteTasks()

    /// Makes a proxy for `mesh`.
    ///
    /// - Parameters:
    ///   - mesh: the mesh to route through.
    ///   - configuration: the proxy settings (default: the mesh configuration's `proxy:` section).
    ///   - metrics: the Prometheus connector; it is subscribed to the mesh here.
    ///   - options: heartbeat and start-up callback.
    ///   - logger: the server's logger.
    public init(
        mesh: Mesh, configuration: ProxyConfiguration? = nil, metrics: PrometheusConnector = PrometheusConnector(),
        options: Options = Options(), logger: Logger = Logger(label: "modelmesh.proxy")
    ) {
        self.mesh = mesh
        self.configuration = configuration ?? mesh.configuration.proxy
        self.metrics = metrics
        self.options = options
        self.logger = logger
        metrics.seed(from: mesh.describe())
        mesh.events.subscribe(metrics)
        var handlers = ProxyHandlers(
            mesh: mesh, bodyLimit: max(1, self.configuration.bodyLimit), metrics: metrics,
            eventStreams: EventStreamHub(), heartbeatInterval: options.heartbeatInterval,
            modelLists: ModelListCache(created: Date()), reloader: options.reloader, tracer: options.tracer)
        handlers.authEnabled = !self.configuration.tokens.isEmpty || !self.configuration.adminTokens.isEmpty
        self.handlers = handlers
    }

    /// Builds the mesh from `configuration` and `providers`, then the proxy.
    ///
    /// - Throws: ``ModelMeshError`` when the configuration is not usable.
    public init(
        configuration: MeshConfiguration, providers: ProviderRegistry,
        connectors: [any ObservabilityConnector] = [], options: Options = Options(),
        logger: Logger = Logger(label: "modelmesh.proxy")
    ) throws {
        let mesh = try Mesh(configuration: configuration, providers: providers, connectors: connectors)
        self.init(mesh: mesh, options: options, logger: logger)
    }

    /// The Hummingbird application serving the proxy.
    public func makeApplication() -> some ApplicationProtocol {
        let onServerRunning = options.onServerRunning
        let responder = makeRouter().buildResponder()
        let serverName = "modelmesh"
        let hotRoutes = HotRoutes(
            responder: responder, logger: logger, serverName: serverName, bodyLimit: handlers.bodyLimit,
            tasks: hotRouteTasks)
        return Application(
            responder: responder,
            server: .eventLoopAffineHTTP1(limits: configuration.limits, hotRoutes: hotRoutes),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port), serverName: serverName),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    public var description: String { "ModelMeshProxy(\(configuration.host):\(configuration.port))" }

    /// Runs until graceful shutdown, then shuts the mesh down.
    public func run() async throws {
        let application = makeApplication()
        let hub = handlers.eventStreams
        let logger = logger
        logger.info(
            "ModelMesh proxy starting",
            metadata: [
                "host": "\(configuration.host)", "port": "\(configuration.port)",
                "auth": "\(configuration.tokens.isEmpty ? "off" : "\(configuration.tokens.count) token(s)")",
            ])
        do {
            let hotRouteTasks = hotRouteTasks
            try await withGracefulShutdownHandler {
                // Cancelled past the shutdown deadline: Hummingbird cancels its connections,
                // and the hot routes' requests go with them.
                try await withTaskCancellationHandler {
                    try await application.run()
                } onCancel: {
                    hotRouteTasks.cancelAll()
                }
            } onGracefulShutdown: {
                logger.info("Shutting down: finishing in-flight requests")
                // Event streams never end on their own; in-flight requests and chat streams do.
                hub.close()
            }
        } catch {
            hub.close()
            await mesh.shutdown()
            throw error
        }
        await mesh.shutdown()
        logger.info("ModelMesh proxy stopped")
    }

    /// Runs the proxy in its own `ServiceGroup` that shuts down gracefully on
    /// `gracefulShutdownSignals`, waiting at most ``ProxyConfiguration/shutdownTimeout``
    /// for in-flight work.
    public func runService(gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        try await makeServiceGroup(gracefulShutdownSignals: gracefulShutdownSignals).run()
    }

    /// A `ServiceGroup` running this proxy, the mesh's periodic maintenance
    /// (``MeshMaintenanceService``) and `services`; on shutdown the proxy stops first.
    public func makeServiceGroup(
        services: [any Service] = [], gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint]
    ) -> ServiceGroup {
        // When the proxy has stopped, the services before it shut down gracefully too.
        let proxy = ServiceGroupConfiguration.ServiceConfiguration(
            service: self, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: description)
        var groupConfiguration = ServiceGroupConfiguration(
            services: (services + [MeshMaintenanceService(mesh: mesh, logger: logger)]).map {
                ServiceGroupConfiguration.ServiceConfiguration(service: $0)
            } + [proxy],
            gracefulShutdownSignals: gracefulShutdownSignals, logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownTimeout
        return ServiceGroup(configuration: groupConfiguration)
    }
}

import Foundation
import Logging
import Synchronization

/// A model mesh: capability pools over providers, with failover routing and lifecycle
/// events, embedded in-process.
///
/// ```swift
/// let mesh = try Mesh(configuration: config, providers: registry)
/// let reply = try await mesh.chat.completions.create(
///     ChatCompletionRequest(model: "chat-completion", messages: [.user("Hello")]))
/// print(reply.text)
/// ```
public final class Mesh: Sendable {
    /// The configuration the mesh runs on: the one it was built from, or the last one
    /// ``reload(_:source:)`` applied.
    public var configuration: MeshConfiguration { loaded.withLock { $0.configuration } }
    /// The configuration in force, its version and when it was applied.
    let loaded: Mutex<LoadedConfiguration>
    /// Serializes reloads and discovery changes to the topology.
    let reloading = Mutex<Void>(())
    /// Providers and models how the configuration names them, before discovery added any.
    let declared: Mutex<MeshConfiguration>
    /// Connectors replaced by a reload, shut down with the mesh (requests that started
    /// before the reload may still be using them).
    let retiredConnectors = Mutex<[any ProviderConnector]>([])
    /// Signalled after every topology change.
    let topologyChanged = ChangeSignal()
    /// Lifecycle events; subscribe connectors or iterate ``EventEmitter/events``.
    public let events: EventEmitter
    /// Per-scope request statistics.
    public let statistics: StatisticsCollector
    /// Spend per scope.
    public let budget: BudgetLedger
    /// Where state persists (nil: memory only).
    let storage: (any StateStorage)?
    /// The last model listing seen per provider, for discovery sync.
    let discoveryState = Mutex<[String: Set<String>]>([:])
    /// Models discovery registered or removed, kept across reloads.
    let discoveredModels = Mutex(DiscoveredModels())
    /// The compiled configuration, replaced whole by a reload.
    let topologyCell: TopologyCell
    var topology: MeshTopology { topologyCell.current }
    let providerRegistry: ProviderRegistry
    let strategyRegistry: StrategyRegistry
    /// The one owner of model and provider state changes.
    let health: HealthCoordinator
    let router: Router
    let clock: any MeshClock
    /// When providers out for bad credentials are probed next.
    let credentialProbes = CredentialProbeSchedule()
    let logger = Logger(label: "modelmesh.mesh")

    /// Builds a mesh from a configuration.
    ///
    /// - Parameters:
    ///   - configuration: providers, models, pools and policies.
    ///   - providers: how to build each provider's connector.
    ///   - connectors: observability connectors to subscribe (besides those configured).
    ///   - observability: how to build the connectors named in `configuration.observability`
    ///     (default: the registry that comes with `providers`).
    ///   - strategies: rotation strategies by ID (the built-in eight by default).
    ///   - clock: the time source (inject a test clock to drive backoff and cooldowns).
    ///   - jitter: the backoff jitter factor source, in `0.5...1`.
    ///   - storage: where state persists; by default the one `configuration.storage` names.
    ///   - sharedStore: the store shared with other replicas; by default the one
    ///     `configuration.storage` names (`modelmesh.postgres.v1`, built by
    ///     ``ProviderRegistry/sharedStateStore``). It needs ``run()`` running.
    public init(
        configuration: MeshConfiguration, providers: ProviderRegistry = ProviderRegistry(),
        connectors: [any ObservabilityConnector] = [], observability: ObservabilityRegistry? = nil,
        strategies: StrategyRegistry = .builtIn,
        clock: any MeshClock = SystemClock(), jitter: @escaping @Sendable () -> Double = { Double.random(in: 0.5...1) },
        storage: (any StateStorage)? = nil, sharedStore: (any SharedStateStore)? = nil
    ) throws {
        loaded = Mutex(LoadedConfiguration(configuration: configuration, version: 1, loadedAt: clock.now(), source: nil))
        declared = Mutex(configuration)
        providerRegistry = providers
        strategyRegistry = strategies
        self.clock = clock
        let emitter = EventEmitter()
        for (connector, filter) in try (observability ?? providers.observability).makeConnectors(
            for: configuration.observability)
        {
            emitter.subscribe(connector, events: filter)
        }
        for connector in connectors { emitter.subscribe(connector) }
        events = emitter
        let stats = StatisticsCollector(clock: clock)
        statistics = stats

        let topology = try MeshTopology.compile(configuration, providers: providers, strategies: strategies)
        let cell = TopologyCell(topology)
        topologyCell = cell
        let ledger = BudgetLedger(limits: topology.budgetLimits, emitter: emitter)
        budget = ledger
        let storage = storage ?? Self.makeStorage(configuration.storage)
        self.storage = storage
        let shared = try (sharedStore ?? Self.makeSharedStore(configuration.storage, providers: providers)).map {
            SharedState(store: $0, settings: configuration.storage, ledger: ledger, clock: clock)
        }
        health = HealthCoordinator(
            topology: cell, emitter: emitter, statistics: stats, clock: clock,
            stateChanged: StateChangeSignal(enabled: storage != nil && configuration.storage.syncPolicy == .immediate),
            shared: shared)
        let recorder = RequestRecorder(
            settings: RequestLogSettings(
                level: configuration.observability.logLevel, secrets: topology.secrets,
                redact: configuration.observability.redactSecrets,
                maxPayloadBytes: configuration.observability.maxPayloadSize,
                traceMinSeverity: configuration.observability.traceMinSeverity),
            emitter: emitter, statistics: stats, clock: clock)
        router = Router(
            topology: cell, health: health, ledger: ledger, recorder: recorder, clock: clock, jitter: jitter)

        do { try restoreState() } catch {
            logger.warning(
                "Saved state could not be read; starting fresh", metadata: ["error": "\(error)"])
        }

        for pool in topology.pools where pool.configuration.recovery.announceOnStart {
            for model in pool.models {
                emitter.emit(
                    RoutingEvent(
                        eventType: .modelActivated, timestamp: clock.now(), modelID: model.id,
                        providerID: model.provider, poolID: pool.id, metadata: ["trigger": "startup"]))
            }
        }
    }

    /// Builds a mesh from a YAML configuration file.
    ///
    /// - Parameter providers: connector factories; `ProviderRegistry.builtIn` from
    ///   `ModelMeshProviders` knows every built-in vendor.
    public convenience init(
        configurationFile path: String, providers: ProviderRegistry, connectors: [any ObservabilityConnector] = [],
        clock: any MeshClock = SystemClock()
    ) throws {
        try self.init(
            configuration: try ConfigurationLoader.load(path: path), providers: providers, connectors: connectors,
            clock: clock)
    }

    /// Builds a mesh from YAML text.
    public convenience init(
        yaml: String, providers: ProviderRegistry, connectors: [any ObservabilityConnector] = [],
        clock: any MeshClock = SystemClock()
    ) throws {
        try self.init(
            configuration: try ConfigurationLoader.parse(yaml: yaml), providers: providers, connectors: connectors,
            clock: clock)
    }

    // MARK: OpenAI-shaped API

    /// `mesh.chat.completions.create(...)`, as in the OpenAI SDKs.
    public var chat: Chat { Chat(mesh: self) }

    /// `mesh.embeddings.create(...)`.
    public var embeddings: Embeddings { Embeddings(mesh: self) }

    /// The chat namespace.
    public struct Chat: Sendable {
        let mesh: Mesh
        public var completions: Completions { Completions(mesh: mesh) }
    }

    /// Chat completions.
    public struct Completions: Sendable {
        let mesh: Mesh

        /// Routes a chat completion and returns the answer.
        public func create(_ request: ChatCompletionRequest, options: RoutingOptions = .init()) async throws
            -> ChatCompletion
        {
            try await mesh.route(request, options: options).value
        }

        /// Routes a streamed chat completion; returns once the first chunk arrived.
        public func stream(_ request: ChatCompletionRequest, options: RoutingOptions = .init()) async throws
            -> AsyncThrowingStream<ChatCompletionChunk, any Error>
        {
            try await mesh.routeStream(request, options: options).chunks
        }
    }

    /// Embeddings.
    public struct Embeddings: Sendable {
        let mesh: Mesh

        /// Routes an embeddings request.
        public func create(_ request: EmbeddingRequest, options: RoutingOptions = .init()) async throws
            -> EmbeddingResponse
        {
            try await mesh.routeEmbeddings(request, options: options).value
        }
    }

    /// Routes a chat completion and reports which pool, model and provider answered.
    public func route(_ request: ChatCompletionRequest, options: RoutingOptions = .init()) async throws
        -> Routed<ChatCompletion>
    {
        if !options.requestChecked { try Self.validate(request) }
        return try await router.complete(request, options: options)
    }

    /// Routes a streamed chat completion; see ``RoutedStream``.
    public func routeStream(_ request: ChatCompletionRequest, options: RoutingOptions = .init()) async throws
        -> RoutedStream
    {
        if !options.requestChecked { try Self.validate(request) }
        return try await router.stream(request, options: options)
    }

    /// Routes an embeddings request.
    public func routeEmbeddings(_ request: EmbeddingRequest, options: RoutingOptions = .init()) async throws
        -> Routed<EmbeddingResponse>
    {
        if case .texts(let list) = request.input, list.isEmpty {
            throw ModelMeshError(.invalidRequest, "'input' is empty", hint: "Send at least one string to embed")
        }
        return try await router.embed(request, options: options)
    }

    static func validate(_ request: ChatCompletionRequest) throws {
        if request.model.isEmpty {
            throw ModelMeshError(.invalidRequest, "'model' is empty", hint: "Name a pool, a capability or a model id")
        }
        if request.messages.isEmpty {
            throw ModelMeshError(.invalidRequest, "'messages' is empty", hint: "Send at least one message")
        }
        if let issue = request.fieldIssue() { throw ModelMeshError(.invalidRequest, issue.message, hint: issue.hint) }
    }

    /// Writes out buffered observability and releases provider connections.
    public func shutdown() async {
        if let shared = health.shared {
            shared.finish()
            await shared.drainOutbox()
            await shared.store.shutdown()
        }
        do { try saveState() } catch {
            logger.error("Saving state at shutdown failed", metadata: ["error": "\(error)"])
        }
        health.stateChanged.finish()
        events.flush(statistics.snapshot())
        await events.shutdown()
        for connector in topology.connectors.values { await connector.shutdown() }
        for connector in retiredConnectors.withLock({ $0 }) { await connector.shutdown() }
    }
}

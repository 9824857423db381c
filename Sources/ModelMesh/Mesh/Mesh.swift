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
    /// The configuration the mesh was built from.
    public let configuration: MeshConfiguration
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
    let router: Router
    let logger = Logger(label: "modelmesh.mesh")

    /// Builds a mesh from a configuration.
    ///
    /// - Parameters:
    ///   - configuration: providers, models, pools and policies.
    ///   - providers: how to build each provider's connector.
    ///   - connectors: observability connectors to subscribe (besides those configured).
    ///   - observability: how to build the connectors named in `configuration.observability`.
    ///   - strategies: rotation strategies by ID (the built-in eight by default).
    ///   - clock: the time source (inject a test clock to drive backoff and cooldowns).
    ///   - jitter: the backoff jitter factor source, in `0.5...1`.
    ///   - storage: where state persists; by default the one `configuration.storage` names.
    public init(
        configuration: MeshConfiguration, providers: ProviderRegistry = ProviderRegistry(),
        connectors: [any ObservabilityConnector] = [], observability: ObservabilityRegistry = .builtIn,
        strategies: StrategyRegistry = .builtIn,
        clock: any MeshClock = SystemClock(), jitter: @escaping @Sendable () -> Double = { Double.random(in: 0.5...1) },
        storage: (any StateStorage)? = nil
    ) throws {
        self.configuration = configuration
        let emitter = EventEmitter()
        for (connector, filter) in try observability.makeConnectors(for: configuration.observability) {
            emitter.subscribe(connector, events: filter)
        }
        for connector in connectors { emitter.subscribe(connector) }
        events = emitter
        let stats = StatisticsCollector(clock: clock)
        statistics = stats

        var problems: [String] = []
        var tree = CapabilityTree.standard
        var models: [String: ModelConfiguration] = [:]
        var orderedModels: [ModelConfiguration] = []
        let enabledProviders = configuration.providers.filter(\.enabled)
        let providerIDs = Set(enabledProviders.map(\.id))
        for model in configuration.models {
            guard models[model.id] == nil else {
                problems.append("models.\(model.id): defined twice")
                continue
            }
            // Models of disabled providers are skipped entirely.
            guard providerIDs.contains(model.provider) else {
                if !configuration.providers.contains(where: { $0.id == model.provider }) {
                    problems.append("models.\(model.id).provider: unknown provider '\(model.provider)'")
                }
                continue
            }
            for path in model.capabilities { tree.register(path) }
            models[model.id] = model
            orderedModels.append(model)
        }

        var connectorsByProvider: [String: any ProviderConnector] = [:]
        for provider in enabledProviders {
            do { connectorsByProvider[provider.id] = try providers.make(provider) } catch {
                problems.append("providers.\(provider.id): \(error)")
            }
        }

        let providerHealth = Dictionary(uniqueKeysWithValues: enabledProviders.map { ($0.id, ProviderHealth(id: $0.id)) })
        let timeouts = Dictionary(enabledProviders.map { ($0.id, $0.timeout) }, uniquingKeysWith: { a, _ in a })
        let handles = models.mapValues { model in
            ModelHandle(
                model: model, connector: connectorsByProvider[model.provider], provider: providerHealth[model.provider],
                timeout: timeouts[model.provider] ?? nil)
        }

        var pools: [CapabilityPool] = []
        for pool in configuration.pools {
            guard let strategy = strategies.make(for: pool) else {
                problems.append("pools.\(pool.id).strategy: unknown strategy '\(pool.strategy)'")
                continue
            }
            var members: [ModelConfiguration] = []
            var capabilityPath: String?
            let capability = pool.capability ?? (pool.models == nil ? pool.id : nil)
            if let capability {
                if let path = tree.canonicalPath(capability) {
                    capabilityPath = path
                    let leaves = Set(tree.leaves(under: path))
                    members = orderedModels.filter { model in
                        (pool.providers.map { $0.contains(model.provider) } ?? true)
                            && model.capabilities.contains { leaves.contains($0) || tree.covers(path, $0) }
                    }
                } else if pool.capability != nil {
                    problems.append("pools.\(pool.id).capability: unknown capability '\(capability)'")
                }
            }
            for id in pool.models ?? [] {
                guard let model = models[id] else {
                    if !configuration.models.contains(where: { $0.id == id }) {
                        problems.append("pools.\(pool.id).models: unknown model '\(id)'")
                    }
                    continue
                }
                if !members.contains(where: { $0.id == id }) { members.append(model) }
            }
            // An explicit list is the priority order; capability matches follow it.
            if let explicit = pool.models {
                let rank = Dictionary(explicit.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
                members = members.enumerated().sorted { a, b in
                    (rank[a.element.id] ?? Int.max, a.offset) < (rank[b.element.id] ?? Int.max, b.offset)
                }.map(\.element)
            }
            pools.append(
                CapabilityPool(
                    configuration: pool, capabilityPath: capabilityPath, models: members.compactMap { handles[$0.id] },
                    strategy: strategy))
        }
        guard problems.isEmpty else {
            throw ModelMeshError(
                .invalidRequest, "The mesh configuration is not usable:\n  " + problems.joined(separator: "\n  "),
                hint: "Fix the listed entries; 'modelmesh validate FILE' checks a file")
        }

        var routes: [String: CapabilityPool] = [:]
        for model in orderedModels where !pools.contains(where: { $0.contains(model.id) }) {
            var single = PoolConfiguration(id: model.id, models: [model.id])
            single.capability = nil
            routes[model.id] = CapabilityPool(
                configuration: single, capabilityPath: model.capabilities.first, models: [handles[model.id]].compactMap { $0 },
                strategy: StickUntilFailureStrategy())
        }

        var limits: [BudgetLedger.ScopeKey: BudgetLimits] = [:]
        if let global = configuration.budget { limits["global"] = global }
        for provider in enabledProviders { if let b = provider.budget { limits["provider:\(provider.id)"] = b } }
        for pool in configuration.pools { if let b = pool.budget { limits["pool:\(pool.id)"] = b } }
        for model in orderedModels { if let b = model.budget { limits["model:\(model.id)"] = b } }
        let ledger = BudgetLedger(limits: limits)
        budget = ledger

        var secrets = enabledProviders.compactMap { $0.apiKey?.value }
        secrets += enabledProviders.flatMap { $0.headers.values.map(\.value) }
        router = Router(
            pools: pools, modelRoutes: routes, handles: handles, connectors: connectorsByProvider,
            providerConfigs: Dictionary(uniqueKeysWithValues: enabledProviders.map { ($0.id, $0) }),
            providerHealth: providerHealth, tree: tree,
            emitter: emitter, ledger: ledger, clock: clock, jitter: jitter, statistics: stats,
            requestLog: RequestLogSettings(
                level: configuration.observability.logLevel, secrets: secrets,
                redact: configuration.observability.redactSecrets,
                traceMinSeverity: configuration.observability.traceMinSeverity))

        self.storage = storage ?? Self.makeStorage(configuration.storage)
        do { try restoreState() } catch {
            logger.warning(
                "Saved state could not be read; starting fresh", metadata: ["error": "\(error)"])
        }

        for pool in pools where pool.configuration.recovery.announceOnStart {
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

    /// Runs the mesh's background work until the task is cancelled: the statistics
    /// flusher, provider health probes (`discovery.health`), and background recovery
    /// probes (`recovery.probe_interval`). The proxy runs this as a service; library users
    /// may run it in a task of their own.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await self.statistics.run(
                    every: self.configuration.observability.statisticsFlushInterval, emitter: self.events)
            }
            if configuration.discovery.syncEnabled {
                group.addTask {
                    while !Task.isCancelled {
                        await self.syncDiscovery()
                        do { try await self.router.clock.sleep(for: self.configuration.discovery.syncInterval) } catch {
                            return
                        }
                    }
                }
            }
            if configuration.discovery.healthEnabled {
                group.addTask {
                    while !Task.isCancelled {
                        do { try await self.router.clock.sleep(for: self.configuration.discovery.healthInterval) } catch {
                            return
                        }
                        await self.probeProviders()
                    }
                }
            }
            let storageConfiguration = configuration.storage
            if storage != nil, storageConfiguration.syncPolicy == .periodic || storageConfiguration.syncPolicy == .immediate {
                // `immediate` saves every second: state changes reach disk promptly without
                // putting file I/O on the routing path.
                let interval = storageConfiguration.syncPolicy == .immediate ? .seconds(1) : storageConfiguration.syncInterval
                group.addTask {
                    while !Task.isCancelled {
                        do { try await self.router.clock.sleep(for: interval) } catch { return }
                        do { try self.saveState() } catch {
                            self.logger.error("Saving state failed", metadata: ["error": "\(error)"])
                        }
                    }
                }
            }
            let intervals = router.pools.compactMap(\.configuration.recovery.probeInterval)
            if let interval = intervals.min() {
                group.addTask {
                    while !Task.isCancelled {
                        do { try await self.router.clock.sleep(for: interval) } catch { return }
                        await self.probeStandbyModels()
                    }
                }
            }
        }
    }

    /// Sends one small request to every standby model whose cooldown has passed; a success
    /// brings it back (`model_activated`, trigger `probe_success`), a failure extends its
    /// cooldown.
    public func probeStandbyModels() async {
        let now = router.clock.now()
        for pool in router.pools {
            for status in pool.describeMembers(now: now) where status.probeDue {
                guard let model = router.models[status.modelID], let connector = router.connectors[model.provider],
                    pool.claimProbe(model.id, now: now)
                else { continue }
                let probe = ChatCompletionRequest(model: model.name, messages: [.user("ping")], maxTokens: 1)
                let context = AttemptContext(
                    requestID: Router.newRequestID(), deadline: now.adding(.seconds(30)), clock: router.clock)
                let started = router.clock.now()
                do {
                    let result = try await connector.complete(
                        probe, target: ModelTarget(modelID: model.id, wireName: model.name, providerID: model.provider),
                        context: context)
                    for t in pool.recordSuccess(
                        model.id, latency: router.clock.now().timeIntervalSince(started),
                        tokens: result.completion.usage?.totalTokens ?? 0, cost: 0, rateLimit: result.rateLimit,
                        now: router.clock.now())
                    {
                        router.publish(t, model: model.id, provider: model.provider, pool: pool)
                    }
                } catch {
                    router.recordFailure(model: model, pool: pool, error: ProviderError.classify(error))
                }
            }
        }
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
        try Self.validate(request)
        return try await router.complete(request, options: options)
    }

    /// Routes a streamed chat completion; see ``RoutedStream``.
    public func routeStream(_ request: ChatCompletionRequest, options: RoutingOptions = .init()) async throws
        -> RoutedStream
    {
        try Self.validate(request)
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
    }

    // MARK: Operations

    /// Returns a model to ACTIVE in one pool, or in every pool holding it.
    @discardableResult
    public func activate(model: String, pool: String? = nil) throws -> Int {
        let targets = try pools(holding: model, only: pool)
        var changed = 0
        for target in targets {
            if let t = target.activate(model, trigger: "manual", now: router.clock.now()) {
                router.publish(t, model: model, provider: router.models[model]?.provider ?? "", pool: target)
                changed += 1
            }
        }
        return changed
    }

    /// Takes a model out (reason `manual`) in one pool, or in every pool holding it. It
    /// stays out until ``activate(model:pool:)``.
    @discardableResult
    public func deactivate(model: String, pool: String? = nil) throws -> Int {
        let targets = try pools(holding: model, only: pool)
        var changed = 0
        for target in targets {
            if let t = target.deactivate(model, reason: .manual, now: router.clock.now()) {
                router.publish(t, model: model, provider: router.models[model]?.provider ?? "", pool: target)
                changed += 1
            }
        }
        return changed
    }

    /// Takes a whole provider out (every model, every pool).
    public func deactivateProvider(_ id: String) throws {
        guard router.providerHealth[id] != nil else {
            throw ModelMeshError(.modelNotFound, "Unknown provider '\(id)'")
        }
        router.deactivateProvider(id, reason: .manual, detail: "manual")
    }

    /// Brings a provider back.
    public func activateProvider(_ id: String) throws {
        guard router.providerHealth[id] != nil else {
            throw ModelMeshError(.modelNotFound, "Unknown provider '\(id)'")
        }
        router.recoverProvider(id, trigger: "manual")
    }

    private func pools(holding model: String, only pool: String?) throws -> [CapabilityPool] {
        guard router.models[model] != nil else {
            throw ModelMeshError(
                .modelNotFound, "Unknown model '\(model)'",
                suggestions: NameSuggestion.ranked(to: model, in: Array(router.models.keys)))
        }
        if let pool {
            guard let p = router.poolsByID[pool] else { throw ModelMeshError(.modelNotFound, "Unknown pool '\(pool)'") }
            guard p.contains(model) else {
                throw ModelMeshError(.invalidRequest, "Model '\(model)' is not a member of pool '\(pool)'")
            }
            return [p]
        }
        return router.allPools.filter { $0.contains(model) }
    }

    /// Adds models to a pool at runtime (emits `pool_membership_changed`).
    public func addModels(_ ids: [String], toPool poolID: String) throws {
        guard let pool = router.poolsByID[poolID] else { throw ModelMeshError(.modelNotFound, "Unknown pool '\(poolID)'") }
        let models = try ids.map { id in
            guard let m = router.handles[id] else { throw ModelMeshError(.modelNotFound, "Unknown model '\(id)'") }
            return m
        }
        let added = pool.add(models)
        if !added.isEmpty { emitMembership(pool: poolID, added: added, removed: []) }
    }

    /// Removes models from a pool at runtime (emits `pool_membership_changed`).
    public func removeModels(_ ids: [String], fromPool poolID: String) throws {
        guard let pool = router.poolsByID[poolID] else { throw ModelMeshError(.modelNotFound, "Unknown pool '\(poolID)'") }
        let removed = pool.remove(Set(ids))
        if !removed.isEmpty { emitMembership(pool: poolID, added: [], removed: removed) }
    }

    private func emitMembership(pool: String, added: [String], removed: [String]) {
        events.emit(
            RoutingEvent(
                eventType: .poolMembershipChanged, timestamp: router.clock.now(), poolID: pool,
                metadata: ["added": .array(added.map(JSONValue.string)), "removed": .array(removed.map(JSONValue.string))]))
    }

    /// Probes every provider once with its health check: a provider out because of an
    /// outage or failed probes comes back on success; one failing
    /// `discovery.health_failure_threshold` probes in a row is taken out.
    public func probeProviders() async {
        for (id, connector) in router.connectors {
            guard let health = router.providerHealth[id] else { continue }
            do {
                try await connector.healthCheck()
                if let change = health.record(success: true) { router.publishHealth(change, provider: id) }
                if let reason = health.snapshot.deactivation, reason != .manual {
                    router.recoverProvider(id, trigger: "probe_success")
                }
            } catch {
                if let change = health.record(success: false) { router.publishHealth(change, provider: id) }
                if health.recordProbeFailure() >= configuration.discovery.healthFailureThreshold {
                    router.deactivateProvider(id, reason: .healthProbeFailed, detail: "\(ProviderError.classify(error))")
                }
            }
        }
    }

    /// Writes out buffered observability and releases provider connections.
    public func shutdown() async {
        do { try saveState() } catch {
            logger.error("Saving state at shutdown failed", metadata: ["error": "\(error)"])
        }
        events.flush(statistics.snapshot())
        await events.shutdown()
        for connector in router.connectors.values { await connector.shutdown() }
    }
}

import Foundation

/// Everything the mesh knows about its pools, models and providers: who is out, why,
/// until when.
public struct MeshDescription: Sendable, Codable {
    public var pools: [PoolDescription]
    public var providers: [ProviderStatus]
    public var budgets: [BudgetStatus]
    /// The store shared with other replicas; absent for one process.
    public var storage: StorageDescription?
    /// The configuration version in force and when it was loaded.
    public var config: ConfigurationVersion?
}

/// The shared store as `/v1/mesh/state` shows it.
public struct StorageDescription: Sendable, Codable {
    public var connector: String
    public var replica: String
    /// `available` or `unavailable` (also before the first contact).
    public var state: String
    public var outages: Int
    public var unavailableSince: Date?
    public var error: String?
    public var pendingWrites: Int
    public var onUnavailable: String

    enum CodingKeys: String, CodingKey {
        case connector, replica, state, outages, error
        case unavailableSince = "unavailable_since"
        case pendingWrites = "pending_writes"
        case onUnavailable = "on_unavailable"
    }
}

/// One pool and its members.
public struct PoolDescription: Sendable, Codable {
    public var id: String
    public var capability: String?
    public var strategy: String
    public var members: [ModelStatus]
}

/// One provider's state.
public struct ProviderStatus: Sendable, Codable {
    public var id: String
    public var connector: String
    /// `active` or `deactivated`.
    public var state: String
    public var reason: String?
    public var healthScore: Double
    public var health: ProviderHealthBand

    enum CodingKeys: String, CodingKey {
        case id, connector, state, reason, healthScore = "health_score", health
    }
}

/// Spend and limits of one budget scope.
public struct BudgetStatus: Sendable, Codable {
    public var scope: String
    public var daily: Double
    public var monthly: Double
    public var total: Double
    public var dailyLimit: Double?
    public var monthlyLimit: Double?
    public var perRequestLimit: Double?
    /// Held by requests in flight, USD: zero when the mesh is idle.
    public var reserved: Double = 0

    enum CodingKeys: String, CodingKey {
        case scope, daily, monthly, total, dailyLimit = "daily_limit", monthlyLimit = "monthly_limit"
        case perRequestLimit = "per_request_limit", reserved
    }
}

/// The dry run of one request: where it would go and why, with nothing sent.
public struct RoutingExplanation: Sendable, Codable {
    public var requestedModel: String
    public var poolID: String
    /// How the name resolved: `pool`, `capability` or `model`.
    public var resolvedAs: String
    public var capability: String?
    public var strategy: String
    public var estimatedInputTokens: Int
    /// Members the filter stage dropped, with reasons.
    public var filteredOut: [FilteredModel]
    /// The fallback chain in order.
    public var chain: [ChainEntry]

    public struct FilteredModel: Sendable, Codable {
        public var modelID: String
        public var providerID: String
        /// Stable code, e.g. `standby`, `missing_feature`.
        public var reason: String
        public var detail: String

        enum CodingKeys: String, CodingKey { case modelID = "model_id", providerID = "provider_id", reason, detail }
    }

    public struct ChainEntry: Sendable, Codable {
        public var modelID: String
        public var providerID: String
        /// This request would be the model's half-open recovery probe.
        public var recoveryProbe: Bool
        /// Worst-case cost reserved for the request on this model, USD.
        public var estimatedCost: Double

        enum CodingKeys: String, CodingKey {
            case modelID = "model_id", providerID = "provider_id", recoveryProbe = "recovery_probe"
            case estimatedCost = "estimated_cost"
        }
    }

    enum CodingKeys: String, CodingKey {
        case requestedModel = "requested_model", poolID = "pool_id", resolvedAs = "resolved_as", capability, strategy
        case estimatedInputTokens = "estimated_input_tokens", filteredOut = "filtered_out", chain
    }

    /// A human-readable rendering.
    public var text: String {
        var lines = ["\(requestedModel) → pool '\(poolID)' (resolved as \(resolvedAs)), strategy \(strategy)"]
        if let capability { lines.append("capability: \(capability)") }
        lines.append("estimated prompt tokens: \(estimatedInputTokens)")
        lines.append("chain:")
        if chain.isEmpty { lines.append("  (empty: the request would be refused)") }
        for (i, entry) in chain.enumerated() {
            lines.append(
                "  \(i + 1). \(entry.modelID) via \(entry.providerID)"
                    + (entry.recoveryProbe ? " [recovery probe]" : "")
                    + String(format: " (reserve $%.6f)", entry.estimatedCost))
        }
        if !filteredOut.isEmpty {
            lines.append("filtered out:")
            for f in filteredOut { lines.append("  - \(f.modelID): \(f.detail)") }
        }
        return lines.joined(separator: "\n")
    }
}

/// The outcome of the routing decision for one request: the pool and the fallback chain.
public struct RoutingDecision: Sendable {
    public var poolID: String
    /// Candidates in the order they would be tried.
    public var chain: [SelectionCandidate]
}

extension Mesh {
    /// The routing decision (resolve, filter, order) for `request`, without sending it and
    /// without moving any strategy state. ``explain(_:options:)`` adds the reasons.
    public func decide(_ request: ChatCompletionRequest, options: RoutingOptions = .init()) throws -> RoutingDecision {
        let (pool, onlyModel) = try topology.route(request.model)
        var profile = RequestProfile(chat: request, streaming: request.stream ?? false, sessionKey: options.sessionKey)
        profile.onlyModel = onlyModel
        let plan = router.plan(pool, profile: profile, now: clock.now(), dryRun: true)
        return RoutingDecision(poolID: pool.id, chain: plan.chain)
    }

    /// The state of every pool, model and provider.
    public func describe() -> MeshDescription {
        let now = clock.now()
        let rejectingPrefill = health.modelsRejectingPrefill
        let pools = topology.pools.map { pool in
            var members = pool.describeMembers(now: now)
            for i in members.indices { members[i].rejectsPrefill = rejectingPrefill.contains(members[i].modelID) }
            return PoolDescription(
                id: pool.id, capability: pool.capabilityPath, strategy: ConnectorID.strategy(pool.configuration.strategy)
                    ?? pool.configuration.strategy, members: members)
        }
        let providers = topology.providerConfigs.keys.sorted().map { id in
            let state = topology.providerHealth[id]?.snapshot ?? .init()
            return ProviderStatus(
                id: id, connector: topology.providerConfigs[id]?.connector ?? id,
                state: state.deactivation == nil ? "active" : "deactivated", reason: state.deactivation?.rawValue,
                healthScore: HealthCoordinator.rounded(state.score), health: state.band)
        }
        let budgets = budget.allScopes().map { scope in
            let spend = budget.spend(of: scope, now: now)
            return BudgetStatus(
                scope: scope, daily: spend.daily, monthly: spend.monthly, total: spend.total,
                dailyLimit: spend.limits?.daily, monthlyLimit: spend.limits?.monthly,
                perRequestLimit: spend.limits?.perRequest, reserved: spend.reserved)
        }
        let storage = sharedStorage.map { s in
            StorageDescription(
                connector: s.connector, replica: s.replicaID, state: s.available ? "available" : "unavailable",
                outages: s.outages, unavailableSince: s.unavailableSince, error: s.error, pendingWrites: s.pendingWrites,
                onUnavailable: s.onUnavailable.rawValue)
        }
        return MeshDescription(
            pools: pools, providers: providers, budgets: budgets, storage: storage, config: configurationVersion)
    }

    /// The dry run of `request`: the pool, the models filtered out and why, and the
    /// fallback chain in order. Nothing is sent and no strategy state moves.
    public func explain(_ request: ChatCompletionRequest, options: RoutingOptions = .init()) throws
        -> RoutingExplanation
    {
        let (pool, onlyModel) = try topology.route(request.model)
        let streaming = request.stream ?? false
        var profile = RequestProfile(chat: request, streaming: streaming, sessionKey: options.sessionKey)
        profile.onlyModel = onlyModel
        let plan = router.plan(pool, profile: profile, now: clock.now(), dryRun: true)
        let resolvedAs =
            topology.poolsByID[request.model] != nil ? "pool" : onlyModel != nil || topology.modelRoutes[request.model] === pool
            ? "model" : "capability"
        return RoutingExplanation(
            requestedModel: request.model, poolID: pool.id, resolvedAs: resolvedAs, capability: pool.capabilityPath,
            strategy: ConnectorID.strategy(pool.configuration.strategy) ?? pool.configuration.strategy,
            estimatedInputTokens: profile.estimatedInputTokens,
            filteredOut: plan.dropped.map {
                .init(modelID: $0.modelID, providerID: $0.providerID, reason: $0.reason.code, detail: "\($0.reason)")
            },
            chain: plan.chain.map { c in
                .init(
                    modelID: c.modelID, providerID: c.providerID, recoveryProbe: c.isProbe,
                    estimatedCost: topology.models[c.modelID].map { profile.estimatedCost(on: $0) } ?? 0)
            })
    }
}

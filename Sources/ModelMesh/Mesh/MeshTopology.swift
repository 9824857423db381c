import Foundation
import Synchronization

/// The mesh's current ``MeshTopology``, replaced whole by a reload. Readers take a copy
/// (a handful of reference counts) and keep using it: a request resolved on one topology
/// finishes on it.
final class TopologyCell: Sendable {
    private let value: Mutex<MeshTopology>

    init(_ topology: MeshTopology) { value = Mutex(topology) }

    var current: MeshTopology { value.withLock { $0 } }

    /// Swaps in `topology`; returns the one it replaced.
    func replace(with topology: MeshTopology) -> MeshTopology {
        value.withLock { current in
            let old = current
            current = topology
            return old
        }
    }
}

/// The compiled configuration of a mesh: pools with their members resolved to handles,
/// one-model routes, connectors, provider states, the capability tree and the budget
/// limits. Built once by ``compile(_:providers:strategies:)``; the router, the health
/// coordinator and the operator API read it, none of them builds it.
///
/// A class, so that taking the current topology from its ``TopologyCell`` on the routing
/// path costs one reference count, not one per field.
final class MeshTopology: Sendable {
    let pools: [CapabilityPool]
    let poolsByID: [String: CapabilityPool]
    /// Implicit one-model routes for models that are in no pool.
    let modelRoutes: [String: CapabilityPool]
    /// Every configured model of an enabled provider, resolved.
    let handles: [String: ModelHandle]
    let models: [String: ModelConfiguration]
    let connectors: [String: any ProviderConnector]
    let providerConfigs: [String: ProviderConfiguration]
    let providerHealth: [String: ProviderHealth]
    let tree: CapabilityTree
    let budgetLimits: [BudgetLedger.ScopeKey: BudgetLimits]
    /// Every secret value the configuration resolved (keys, header values), for redaction.
    let secrets: [String]
    /// provider id → ``ProviderFingerprint`` of its settings.
    let providerFingerprints: [String: String]

    init(
        pools: [CapabilityPool], poolsByID: [String: CapabilityPool], modelRoutes: [String: CapabilityPool],
        handles: [String: ModelHandle], models: [String: ModelConfiguration],
        connectors: [String: any ProviderConnector], providerConfigs: [String: ProviderConfiguration],
        providerHealth: [String: ProviderHealth], tree: CapabilityTree,
        budgetLimits: [BudgetLedger.ScopeKey: BudgetLimits], secrets: [String], providerFingerprints: [String: String]
    ) {
        self.pools = pools
        self.poolsByID = poolsByID
        self.modelRoutes = modelRoutes
        self.handles = handles
        self.models = models
        self.connectors = connectors
        self.providerConfigs = providerConfigs
        self.providerHealth = providerHealth
        self.tree = tree
        self.budgetLimits = budgetLimits
        self.secrets = secrets
        self.providerFingerprints = providerFingerprints
    }

    /// Pools and one-model routes: every place a model's health lives.
    var allPools: [CapabilityPool] { pools + Array(modelRoutes.values) }

    /// Compiles a configuration, collecting every problem before failing.
    ///
    /// With `previous` (a reload), what still applies is carried over instead of built
    /// anew: the connector of a provider whose settings are unchanged (and with it its
    /// connections), the health of a provider whose endpoint and credentials are unchanged,
    /// and, in pools that keep their id, the health, cooldowns, usage counters and latency
    /// of members that keep their model id and provider, and the strategy's state when the
    /// strategy is unchanged.
    static func compile(
        _ configuration: MeshConfiguration, providers: ProviderRegistry, strategies: StrategyRegistry,
        previous: MeshTopology? = nil
    ) throws -> MeshTopology {
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

        var connectors: [String: any ProviderConnector] = [:]
        for provider in enabledProviders {
            if let previous, previous.providerConfigs[provider.id] == provider,
                let kept = previous.connectors[provider.id]
            {
                connectors[provider.id] = kept
                continue
            }
            do { connectors[provider.id] = try providers.make(provider) } catch {
                problems.append("providers.\(provider.id): \(error)")
            }
        }

        let providerHealth = Dictionary(
            uniqueKeysWithValues: enabledProviders.map { provider in
                // A provider whose endpoint or key changed starts fresh: its old outage says
                // nothing about the new credentials.
                if let previous, previous.providerFingerprints[provider.id] == ProviderFingerprint.of(provider),
                    let kept = previous.providerHealth[provider.id]
                {
                    return (provider.id, kept)
                }
                return (provider.id, ProviderHealth(id: provider.id))
            })
        let timeouts = Dictionary(enabledProviders.map { ($0.id, $0.timeout) }, uniquingKeysWith: { a, _ in a })
        let handles = models.mapValues { model in
            ModelHandle(
                model: model, connector: connectors[model.provider], provider: providerHealth[model.provider],
                timeout: timeouts[model.provider] ?? nil)
        }

        var pools: [CapabilityPool] = []
        for pool in configuration.pools {
            let before = previous?.poolsByID[pool.id]
            let reusable = before.flatMap { $0.configuration.apartFromMembers == pool.apartFromMembers ? $0.strategy : nil }
            guard let strategy = reusable ?? strategies.make(for: pool) else {
                problems.append("pools.\(pool.id).strategy: unknown strategy '\(pool.strategy)'")
                continue
            }
            let (members, capabilityPath) = Self.members(
                of: pool, tree: tree, orderedModels: orderedModels, models: models, configuration: configuration,
                problems: &problems)
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
                configuration: single, capabilityPath: model.capabilities.first,
                models: [handles[model.id]].compactMap { $0 }, strategy: StickUntilFailureStrategy())
        }
        if let previous {
            for pool in pools { if let old = previous.poolsByID[pool.id] { pool.adoptState(of: old) } }
            for (id, route) in routes { if let old = previous.modelRoutes[id] { route.adoptState(of: old) } }
        }

        var limits: [BudgetLedger.ScopeKey: BudgetLimits] = [:]
        if let global = configuration.budget { limits["global"] = global }
        for provider in enabledProviders { if let b = provider.budget { limits["provider:\(provider.id)"] = b } }
        for pool in configuration.pools { if let b = pool.budget { limits["pool:\(pool.id)"] = b } }
        for model in orderedModels { if let b = model.budget { limits["model:\(model.id)"] = b } }

        var secrets = enabledProviders.compactMap { $0.apiKey?.value }
        secrets += enabledProviders.flatMap { $0.headers.values.map(\.value) }
        return MeshTopology(
            pools: pools, poolsByID: Dictionary(pools.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }),
            modelRoutes: routes, handles: handles, models: models, connectors: connectors,
            providerConfigs: Dictionary(uniqueKeysWithValues: enabledProviders.map { ($0.id, $0) }),
            providerHealth: providerHealth, tree: tree, budgetLimits: limits, secrets: secrets,
            providerFingerprints: Dictionary(
                uniqueKeysWithValues: enabledProviders.map { ($0.id, ProviderFingerprint.of($0)) }))
    }

    /// A pool's members in priority order: capability matches, then the explicit list's
    /// models; with an explicit list, that order comes first.
    private static func members(
        of pool: PoolConfiguration, tree: CapabilityTree, orderedModels: [ModelConfiguration],
        models: [String: ModelConfiguration], configuration: MeshConfiguration, problems: inout [String]
    ) -> ([ModelConfiguration], String?) {
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
        if let explicit = pool.models {
            let rank = Dictionary(explicit.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
            members = members.enumerated().sorted { a, b in
                (rank[a.element.id] ?? Int.max, a.offset) < (rank[b.element.id] ?? Int.max, b.offset)
            }.map(\.element)
        }
        return (members, capabilityPath)
    }

    // MARK: Resolve

    /// Resolves a requested name: a pool id; else a capability alias or path served by a
    /// pool (config order); else a configured model id, restricted to that one member.
    func route(_ name: String) throws -> (pool: CapabilityPool, onlyModel: String?) {
        if let pool = poolsByID[name] { return (pool, nil) }
        if let path = tree.canonicalPath(name) {
            let wanted = Set(tree.leaves(under: path))
            for pool in pools {
                guard let covering = pool.capabilityPath else { continue }
                if tree.covers(covering, path) || tree.covers(path, covering)
                    || !wanted.isDisjoint(with: tree.leaves(under: covering))
                {
                    return (pool, nil)
                }
            }
        }
        // A model id: through the first pool holding it (its health lives there), else its
        // own one-model route.
        if models[name] != nil, let home = pools.first(where: { $0.contains(name) }) { return (home, name) }
        if let route = modelRoutes[name] { return (route, nil) }
        let known = Array(poolsByID.keys) + Array(modelRoutes.keys) + Array(tree.aliases.keys)
        let nearest = NameSuggestion.ranked(to: name, in: known)
        throw ModelMeshError(
            .modelNotFound, "The model '\(name)' does not exist: it is not a pool, a capability or a model id",
            hint: nearest.isEmpty
                ? "GET /v1/models lists what this mesh serves"
                : "Did you mean \(nearest.map { "'\($0)'" }.joined(separator: ", "))?",
            suggestions: nearest)
    }
}

extension PoolConfiguration {
    /// The pool's settings without its membership. A rotation strategy is built from these;
    /// while a reload leaves them unchanged, the strategy keeps its state (a session's model,
    /// a round-robin position).
    var apartFromMembers: PoolConfiguration {
        var copy = self
        copy.capability = nil
        copy.models = nil
        copy.providers = nil
        return copy
    }
}

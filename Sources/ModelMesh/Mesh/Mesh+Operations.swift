import Foundation

/// The operator API: manual activation and deactivation of models and providers, and
/// pool membership changes at runtime. Every change goes through the health coordinator,
/// so its event and strategy callbacks are the same as for traffic-driven changes.
extension Mesh {
    /// Returns a model to ACTIVE in one pool, or in every pool holding it.
    @discardableResult
    public func activate(model: String, pool: String? = nil) throws -> Int {
        health.activate(model, in: try pools(holding: model, only: pool), trigger: "manual")
    }

    /// Takes a model out (reason `manual`) in one pool, or in every pool holding it. It
    /// stays out until ``activate(model:pool:)``.
    @discardableResult
    public func deactivate(model: String, pool: String? = nil) throws -> Int {
        health.deactivate(model, in: try pools(holding: model, only: pool), reason: .manual)
    }

    /// Takes a whole provider out (every model, every pool) until ``activateProvider(_:)``.
    public func deactivateProvider(_ id: String) throws {
        try requireProvider(id)
        health.deactivateProvider(id, reason: .manual, detail: "manual")
    }

    /// Brings a provider back, whatever took it out.
    public func activateProvider(_ id: String) throws {
        try requireProvider(id)
        health.recoverProvider(id, trigger: "manual")
    }

    private func requireProvider(_ id: String) throws {
        guard topology.providerHealth[id] != nil else {
            throw ModelMeshError(
                .modelNotFound, "Unknown provider '\(id)'",
                suggestions: NameSuggestion.ranked(to: id, in: Array(topology.providerHealth.keys)))
        }
    }

    private func pools(holding model: String, only pool: String?) throws -> [CapabilityPool] {
        guard topology.models[model] != nil else {
            throw ModelMeshError(
                .modelNotFound, "Unknown model '\(model)'",
                suggestions: NameSuggestion.ranked(to: model, in: Array(topology.models.keys)))
        }
        if let pool {
            guard let p = topology.poolsByID[pool] else { throw ModelMeshError(.modelNotFound, "Unknown pool '\(pool)'") }
            guard p.contains(model) else {
                throw ModelMeshError(.invalidRequest, "Model '\(model)' is not a member of pool '\(pool)'")
            }
            return [p]
        }
        return topology.allPools.filter { $0.contains(model) }
    }

    /// Adds models to a pool at runtime (emits `pool_membership_changed`).
    public func addModels(_ ids: [String], toPool poolID: String) throws {
        guard let pool = topology.poolsByID[poolID] else {
            throw ModelMeshError(.modelNotFound, "Unknown pool '\(poolID)'")
        }
        let models = try ids.map { id in
            guard let m = topology.handles[id] else { throw ModelMeshError(.modelNotFound, "Unknown model '\(id)'") }
            return m
        }
        let added = pool.add(models)
        if !added.isEmpty { emitMembership(pool: poolID, added: added, removed: []) }
    }

    /// Removes models from a pool at runtime (emits `pool_membership_changed`).
    public func removeModels(_ ids: [String], fromPool poolID: String) throws {
        guard let pool = topology.poolsByID[poolID] else {
            throw ModelMeshError(.modelNotFound, "Unknown pool '\(poolID)'")
        }
        let removed = pool.remove(Set(ids))
        if !removed.isEmpty { emitMembership(pool: poolID, added: [], removed: removed) }
    }

    private func emitMembership(pool: String, added: [String], removed: [String]) {
        events.emit(
            RoutingEvent(
                eventType: .poolMembershipChanged, timestamp: clock.now(), poolID: pool,
                metadata: ["added": .array(added.map(JSONValue.string)), "removed": .array(removed.map(JSONValue.string))]))
    }
}

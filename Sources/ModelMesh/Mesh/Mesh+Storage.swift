import Foundation

extension Mesh {
    static let stateKey = "modelmesh-state"

    /// The state as stored.
    func snapshotState() -> MeshStateSnapshot {
        var providers: [String: ProviderDeactivationReason] = [:]
        for (id, health) in router.providerHealth {
            if let reason = health.snapshot.deactivation { providers[id] = reason }
        }
        return MeshStateSnapshot(
            savedAt: router.clock.now(),
            pools: Dictionary(uniqueKeysWithValues: router.pools.map { ($0.id, $0.persistedMembers()) }),
            providers: providers, budget: budget.exportState())
    }

    /// Writes model states, provider deactivations and budget spend to the configured
    /// storage. Without storage (`in-memory`), does nothing.
    public func saveState() throws {
        guard let storage else { return }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        try storage.save(key: Self.stateKey, data: try encoder.encode(snapshotState()))
    }

    /// Restores what ``saveState()`` wrote; called when the mesh is built with a storage.
    func restoreState() throws {
        guard let storage, let data = try storage.load(key: Self.stateKey) else { return }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let snapshot = try decoder.decode(MeshStateSnapshot.self, from: data)
        for pool in router.pools {
            if let saved = snapshot.pools[pool.id] { pool.restoreMembers(saved) }
        }
        for (id, reason) in snapshot.providers { router.providerHealth[id]?.restore(reason) }
        if let budgetState = snapshot.budget { budget.importState(budgetState) }
    }

    /// The storage the configuration names, if it persists anything.
    static func makeStorage(_ configuration: StorageConfiguration) -> (any StateStorage)? {
        guard configuration.syncPolicy != .inMemory else { return nil }
        switch ConnectorID.normalize(configuration.connector) {
        case "modelmesh.local-file.v1": return LocalFileStateStorage(path: configuration.path ?? ".modelmesh")
        default: return InMemoryStateStorage()
        }
    }
}

import Foundation

extension Mesh {
    static let stateKey = "modelmesh-state"
    /// The least time between two writes of `sync_policy: immediate`.
    static let immediateSyncGap: Duration = .milliseconds(50)

    /// The state as stored.
    func snapshotState() -> MeshStateSnapshot {
        var providers: [String: ProviderDeactivationReason] = [:]
        for (id, health) in topology.providerHealth {
            if let reason = health.snapshot.deactivation { providers[id] = reason }
        }
        return MeshStateSnapshot(
            savedAt: clock.now(),
            pools: Dictionary(uniqueKeysWithValues: topology.allPools.map { ($0.id, $0.persistedMembers()) }),
            providers: providers, providerFingerprints: topology.providerFingerprints, budget: budget.exportState())
    }

    /// Writes model states, cooldowns, usage counters, provider deactivations and budget
    /// spend to the configured storage. Without storage (`in-memory`), does nothing.
    public func saveState() throws {
        guard let storage else { return }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        try storage.save(key: Self.stateKey, data: try encoder.encode(snapshotState()))
    }

    /// Restores what ``saveState()`` wrote; called when the mesh is built with a storage.
    ///
    /// A provider's saved deactivation (other than a manual one) is dropped when its
    /// credentials, base URL or connector changed since it was saved: the new settings
    /// deserve a fresh try.
    func restoreState() throws {
        guard let storage, let data = try storage.load(key: Self.stateKey) else { return }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let snapshot = try decoder.decode(MeshStateSnapshot.self, from: data)
        for pool in topology.allPools {
            if let saved = snapshot.pools[pool.id] { health.restore(saved, in: pool) }
        }
        for (id, reason) in snapshot.providers {
            let changed = snapshot.providerFingerprints?[id] != topology.providerFingerprints[id]
            if changed, reason != .manual {
                logger.info(
                    "A provider's saved deactivation is dropped: its settings changed",
                    metadata: ["provider": "\(id)", "reason": "\(reason.rawValue)"])
            }
            health.restoreProvider(id, reason: reason, settingsChanged: changed)
        }
        if let budgetState = snapshot.budget { budget.importState(budgetState) }
    }

    /// Saves per the sync policy until cancelled: every `sync_interval` (`periodic`), or
    /// after every change, coalesced, at most one write per 50 ms (`immediate`). `sync-on-boundary` saves at start-up
    /// and shutdown only.
    func runStatePersistence() async {
        guard storage != nil else { return }
        switch configuration.storage.syncPolicy {
        case .periodic:
            await repeating(every: configuration.storage.syncInterval) { saveStateLogged() }
        case .immediate:
            for await _ in health.stateChanged.changes {
                saveStateLogged()
                // Changes meanwhile coalesce into the next write: at most one write per
                // gap under load, each change on disk within about one gap.
                do { try await clock.sleep(for: Self.immediateSyncGap) } catch { return }
            }
        case .inMemory, .syncOnBoundary:
            return
        }
    }

    func saveStateLogged() {
        do { try saveState() } catch {
            logger.error("Saving state failed", metadata: ["error": "\(error)"])
        }
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

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
        // State lives in the shared store.
        case "modelmesh.postgres.v1": return nil
        default: return InMemoryStateStorage()
        }
    }

    /// The shared store the configuration names, built by the registry's factory.
    static func makeSharedStore(_ configuration: StorageConfiguration, providers: ProviderRegistry) throws
        -> (any SharedStateStore)?
    {
        guard configuration.isShared else { return nil }
        guard let factory = providers.sharedStateStore else {
            throw ModelMeshError(
                .invalidRequest, "storage.connector modelmesh.postgres.v1 is not available in this build",
                hint: "Link ModelMeshPostgres and set registry.sharedStateStore = PostgresStateStore.factory "
                    + "(the modelmesh program does)")
        }
        return try factory(configuration)
    }

    /// The shared store's state, for `/ready`, `/v1/mesh/state` and `/metrics`; nil
    /// without one.
    public var sharedStorage: SharedStorageStatus? {
        guard let shared = health.shared else { return nil }
        let s = shared.status
        return SharedStorageStatus(
            connector: configuration.storage.connector, replicaID: shared.store.replicaID,
            available: s.available == true && s.prepared, outages: s.outages, unavailableSince: s.since,
            error: s.lastError, pendingWrites: shared.pendingCount, onUnavailable: configuration.storage.onUnavailable)
    }
}

/// The state of the store shared by the replicas.
public struct SharedStorageStatus: Sendable, Hashable {
    public var connector: String
    /// This process's id among the replicas.
    public var replicaID: String
    /// Whether the store answered last time (false before the first contact).
    public var available: Bool
    /// Times the store became unreachable since start.
    public var outages: Int
    public var unavailableSince: Date?
    /// Why it is unreachable.
    public var error: String?
    /// Settlements and releases waiting for the store.
    public var pendingWrites: Int
    public var onUnavailable: StorageUnavailablePolicy
}

/// What a local-file state holds, in the shared store's terms: for moving a mesh from
/// `modelmesh.local-file.v1` to `modelmesh.postgres.v1` (`modelmesh storage migrate --from`).
public struct SharedStateImport: Sendable {
    /// Model and provider states.
    public var records: [SharedHealthRecord]
    /// Settled spend per ledger key (`scope|d:…`, `scope|m:…`, `scope|total`), nano-dollars.
    public var spend: [SharedBudgetRow]
    /// When the file was written: with the key, it makes each import of it count once.
    public var savedAt: Date

    /// Reads the state that `modelmesh.local-file.v1` wrote: its directory, or the JSON file.
    public static func read(path: String) throws -> SharedStateImport {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        guard exists else {
            throw ModelMeshError(
                .invalidRequest, "No state at '\(path)'",
                hint: "Pass the local-file store's directory (storage.path, default .modelmesh) or its JSON file")
        }
        let data: Data?
        if isDirectory.boolValue {
            data = try LocalFileStateStorage(path: path).load(key: Mesh.stateKey)
        } else {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        }
        guard let data else {
            throw ModelMeshError(
                .invalidRequest, "'\(path)' holds no mesh state (\(Mesh.stateKey).json is missing)",
                hint: "Pass the directory a modelmesh.local-file.v1 store wrote")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let snapshot: MeshStateSnapshot
        do { snapshot = try decoder.decode(MeshStateSnapshot.self, from: data) } catch {
            throw ModelMeshError(
                .invalidRequest, "'\(path)' is not a mesh state file: \(error)",
                hint: "Pass the directory a modelmesh.local-file.v1 store wrote")
        }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        var records: [SharedHealthRecord] = []
        for (pool, members) in snapshot.pools.sorted(by: { $0.key < $1.key }) {
            for (model, member) in members.sorted(by: { $0.key < $1.key }) {
                var shared = member
                shared.usage = nil
                records.append(
                    SharedHealthRecord(
                        key: SharedState.modelKey(pool: pool, model: model),
                        payload: String(decoding: try encoder.encode(shared), as: UTF8.self), origin: "import"))
            }
        }
        for (provider, reason) in snapshot.providers.sorted(by: { $0.key < $1.key }) {
            let state = HealthCoordinator.SharedProviderState(deactivation: reason)
            records.append(
                SharedHealthRecord(
                    key: SharedState.providerKey(provider),
                    payload: String(decoding: try encoder.encode(state), as: UTF8.self), origin: "import"))
        }
        let spend = snapshot.budget.map(BudgetLedger.sharedRows(fromExport:)) ?? []
        return SharedStateImport(records: records, spend: spend, savedAt: snapshot.savedAt)
    }
}

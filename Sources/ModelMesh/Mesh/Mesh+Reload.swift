import Foundation
import Synchronization

/// The configuration a mesh runs on, with its version.
struct LoadedConfiguration: Sendable {
    var configuration: MeshConfiguration
    var version: Int
    var loadedAt: Date
    var source: String?
}

/// Which configuration a mesh runs on: `GET /v1/mesh/state` shows it as `config`.
public struct ConfigurationVersion: Sendable, Codable, Equatable {
    /// 1 for the configuration the mesh started with, one more for each applied reload.
    public var version: Int
    /// When this version was applied.
    public var loadedAt: Date
    /// Where it came from (a file path), if known.
    public var source: String?

    enum CodingKeys: String, CodingKey {
        case version
        case loadedAt = "loaded_at"
        case source
    }
}

/// What a reload changed.
public struct ReloadReport: Sendable, Codable, Equatable {
    /// One pool whose members changed.
    public struct PoolChange: Sendable, Codable, Equatable {
        public var pool: String
        public var added: [String]
        public var removed: [String]
    }

    /// The version now in force.
    public var version: ConfigurationVersion
    public var modelsAdded: [String] = []
    public var modelsRemoved: [String] = []
    public var poolsAdded: [String] = []
    public var poolsRemoved: [String] = []
    /// Pools (kept, added or removed) whose members changed; one
    /// `pool_membership_changed` event was emitted for each.
    public var membership: [PoolChange] = []
    public var providersAdded: [String] = []
    public var providersRemoved: [String] = []
    /// Providers whose settings changed: a new connector, and fresh health when the
    /// endpoint or the key changed.
    public var providersRebuilt: [String] = []

    enum CodingKeys: String, CodingKey {
        case version = "config"
        case modelsAdded = "models_added"
        case modelsRemoved = "models_removed"
        case poolsAdded = "pools_added"
        case poolsRemoved = "pools_removed"
        case membership
        case providersAdded = "providers_added"
        case providersRemoved = "providers_removed"
        case providersRebuilt = "providers_rebuilt"
    }
}

/// Wakes every waiter after a change; waiters that arrive later wait for the next one.
final class ChangeSignal: Sendable {
    private struct Waiter: Sendable {
        let id: UInt64
        let continuation: CheckedContinuation<Void, Never>
    }

    private let state = Mutex<(next: UInt64, waiters: [Waiter])>((0, []))

    func signal() {
        let waiters = state.withLock { s in
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.continuation.resume() }
    }

    /// Returns after the next ``signal()``, or when the task is cancelled.
    func wait() async {
        let id = state.withLock { s in
            s.next += 1
            return s.next
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let cancelled = state.withLock { s -> Bool in
                    if Task.isCancelled { return true }
                    s.waiters.append(Waiter(id: id, continuation: continuation))
                    return false
                }
                if cancelled { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> Waiter? in
                guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return s.waiters.remove(at: i)
            }
            waiter?.continuation.resume()
        }
    }
}

extension Mesh {
    /// The sections a running mesh cannot take over: the listener, the state store and the
    /// observability connectors are set up once, at start.
    static let restartOnlySections = ["proxy", "storage", "observability", "discovery"]

    /// The configuration version in force.
    public var configurationVersion: ConfigurationVersion {
        loaded.withLock { ConfigurationVersion(version: $0.version, loadedAt: $0.loadedAt, source: $0.source) }
    }

    /// Names where the running configuration came from (a file path), for
    /// ``configurationVersion`` and `GET /v1/mesh/state`; later reloads keep or replace it.
    public func setConfigurationSource(_ source: String) {
        loaded.withLock { $0.source = source }
    }

    /// Applies a new configuration to the running mesh, atomically.
    ///
    /// Requests already routed finish on the topology they started on; requests routed
    /// after this returns use the new one. State carries over by id: providers whose
    /// settings are unchanged keep their connector (and its connections) and their
    /// health; providers whose endpoint or key changed start fresh. Pools that keep their
    /// id keep, for members that keep their model id and provider, health, cooldowns,
    /// usage counters and latency, and the rotation strategy's state while the strategy's
    /// settings are unchanged. Spend carries over per scope under the new limits.
    /// `pool_membership_changed` is emitted once for each pool whose members changed
    /// (metadata `added`, `removed`, `trigger: reload`, `config_version`).
    ///
    /// The sections ``restartOnlySections`` name (`proxy`, `storage`, `observability`,
    /// `discovery`) are set up at start: a configuration that changes them is refused.
    ///
    /// - Parameters:
    ///   - configuration: the new configuration; for a file, `ConfigurationLoader.load(path:)`.
    ///   - source: where it came from, shown with the version.
    /// - Throws: ``ModelMeshError`` (`invalid_request`) when it cannot be applied; the
    ///   running mesh is then unchanged.
    @discardableResult
    public func reload(_ configuration: MeshConfiguration, source: String? = nil) throws -> ReloadReport {
        try reloading.withLock { _ in
            let current = loaded.withLock { $0.configuration }
            let changed = Self.restartOnlyChanges(from: current, to: configuration)
            guard changed.isEmpty else {
                throw ModelMeshError(
                    .invalidRequest,
                    "The configuration changes \(changed.joined(separator: ", ")), which only a restart applies",
                    hint: "Restart the proxy to apply those sections, or undo their changes to reload the rest")
            }
            declared.withLock { $0 = configuration }
            return try apply(withDiscoveries(configuration), trigger: "reload", source: source)
        }
    }

    /// The restart-only sections that differ between two configurations.
    static func restartOnlyChanges(from old: MeshConfiguration, to new: MeshConfiguration) -> [String] {
        var changed: [String] = []
        if old.proxy != new.proxy { changed.append("proxy") }
        if old.storage != new.storage { changed.append("storage") }
        if old.observability != new.observability { changed.append("observability") }
        if old.discovery != new.discovery { changed.append("discovery") }
        return changed
    }

    /// Compiles `configuration` against the running topology and swaps it in. Call with
    /// ``reloading`` held.
    func apply(_ configuration: MeshConfiguration, trigger: String, source: String?) throws -> ReloadReport {
        let old = topology
        let new = try MeshTopology.compile(
            configuration, providers: providerRegistry, strategies: strategyRegistry, previous: old)
        let version = loaded.withLock { state -> ConfigurationVersion in
            state.version += 1
            state.configuration = configuration
            state.loadedAt = clock.now()
            if let source { state.source = source }
            return ConfigurationVersion(version: state.version, loadedAt: state.loadedAt, source: state.source)
        }
        router.recorder.addSecrets(new.secrets)
        budget.replaceLimits(new.budgetLimits)
        _ = topologyCell.replace(with: new)
        for pool in old.allPools { pool.retire() }

        var report = ReloadReport(version: version)
        let oldModels = Set(old.models.keys)
        let newModels = Set(new.models.keys)
        report.modelsAdded = newModels.subtracting(oldModels).sorted()
        report.modelsRemoved = oldModels.subtracting(newModels).sorted()
        let oldPools = Set(old.poolsByID.keys)
        let newPools = Set(new.poolsByID.keys)
        report.poolsAdded = newPools.subtracting(oldPools).sorted()
        report.poolsRemoved = oldPools.subtracting(newPools).sorted()
        let oldProviders = Set(old.providerConfigs.keys)
        let newProviders = Set(new.providerConfigs.keys)
        report.providersAdded = newProviders.subtracting(oldProviders).sorted()
        report.providersRemoved = oldProviders.subtracting(newProviders).sorted()
        // compile(previous:) kept the connector of every provider whose settings are equal.
        report.providersRebuilt = newProviders.intersection(oldProviders).filter {
            old.providerConfigs[$0] != new.providerConfigs[$0]
        }.sorted()
        let replaced = Set(report.providersRemoved + report.providersRebuilt)
        let retired = old.connectors.filter { replaced.contains($0.key) }.map(\.value)
        if !retired.isEmpty { retiredConnectors.withLock { $0 += retired } }

        // Pools in their new order, then those removed.
        let ids = new.pools.map(\.id) + old.pools.map(\.id).filter { new.poolsByID[$0] == nil }
        for id in ids {
            let before = old.poolsByID[id]?.memberIDs ?? []
            let after = new.poolsByID[id]?.memberIDs ?? []
            let added = after.filter { !before.contains($0) }
            let removed = before.filter { !after.contains($0) }
            guard !added.isEmpty || !removed.isEmpty else { continue }
            report.membership.append(ReloadReport.PoolChange(pool: id, added: added, removed: removed))
            events.emit(
                RoutingEvent(
                    eventType: .poolMembershipChanged, timestamp: clock.now(), poolID: id,
                    metadata: [
                        "added": .array(added.map(JSONValue.string)), "removed": .array(removed.map(JSONValue.string)),
                        "trigger": .string(trigger), "config_version": .int(version.version),
                    ]))
        }
        health.stateChanged.signal()
        topologyChanged.signal()
        logger.info(
            "Configuration applied",
            metadata: [
                "version": "\(version.version)", "trigger": "\(trigger)",
                "pools": "\(new.pools.count)", "models": "\(new.models.count)",
            ])
        return report
    }
}

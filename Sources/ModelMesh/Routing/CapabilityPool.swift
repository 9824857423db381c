import Foundation
import Synchronization

/// The models that can serve one capability, their health, and the strategy that orders
/// them.
///
/// Each pool guards its own members with its own lock; there is no lock shared by all
/// pools on the routing path.
public final class CapabilityPool: Sendable {
    public let id: String
    public let configuration: PoolConfiguration
    /// The full capability path the pool targets, if it targets one.
    public let capabilityPath: String?
    let strategy: any RotationStrategy

    struct Member: Sendable {
        let handle: ModelHandle
        let weight: Double
        var health = ModelHealth()
        var latency: Double?
        var rateLimit: RateLimitStatus?
        var rate = RequestRate()

        var model: ModelConfiguration { handle.model }
    }

    private let members: Mutex<[Member]>
    /// Set when a reload replaced this pool: outcomes of requests still running on it are
    /// recorded on its successor (the pool with the same id in the new topology).
    private let retired = Atomic<Bool>(false)

    var isRetired: Bool { retired.load(ordering: .relaxed) }

    func retire() { retired.store(true, ordering: .relaxed) }

    init(configuration: PoolConfiguration, capabilityPath: String?, models: [ModelHandle],
        strategy: any RotationStrategy)
    {
        id = configuration.id
        self.configuration = configuration
        self.capabilityPath = capabilityPath
        self.strategy = strategy
        members = Mutex(models.map { Member(handle: $0, weight: configuration.modelWeights[$0.model.id] ?? 1) })
    }

    /// Ids of the members in priority order.
    public var memberIDs: [String] { members.withLock { $0.map(\.model.id) } }

    /// The member models in priority order.
    var models: [ModelConfiguration] { members.withLock { $0.map(\.model) } }

    /// The member handles in priority order.
    var handles: [ModelHandle] { members.withLock { $0.map(\.handle) } }

    func contains(_ modelID: String) -> Bool { members.withLock { $0.contains { $0.model.id == modelID } } }

    /// Takes over the state of the members it shares with `old` (the pool with its id before
    /// a reload): health, cooldowns, usage counters, latency, rate-limit headroom and request
    /// rate, for each model that keeps its id and its provider's state.
    func adoptState(of old: CapabilityPool) {
        let previous = old.members.withLock { list in
            Dictionary(list.map { ($0.model.id, $0) }, uniquingKeysWith: { a, _ in a })
        }
        members.withLock { list in
            for i in list.indices {
                guard let before = previous[list[i].model.id], before.handle.provider === list[i].handle.provider,
                    before.model.provider == list[i].model.provider
                else { continue }
                list[i].health = before.health
                list[i].latency = before.latency
                list[i].rateLimit = before.rateLimit
                list[i].rate = before.rate
            }
        }
    }

    /// Adds models not yet present; returns the ids added.
    func add(_ models: [ModelHandle]) -> [String] {
        members.withLock { list in
            var added: [String] = []
            for handle in models where !list.contains(where: { $0.model.id == handle.model.id }) {
                list.append(Member(handle: handle, weight: configuration.modelWeights[handle.model.id] ?? 1))
                added.append(handle.model.id)
            }
            return added
        }
    }

    /// Removes models; returns the ids removed.
    func remove(_ ids: Set<String>) -> [String] {
        members.withLock { list in
            let removed = list.filter { ids.contains($0.model.id) }.map(\.model.id)
            list.removeAll { ids.contains($0.model.id) }
            return removed
        }
    }

    // MARK: Filter

    /// The filter and order stages for one request.
    func plan(_ request: RequestProfile, budget: BudgetLedger, now: Date,
        dryRun: Bool = false)
        -> (chain: [SelectionCandidate], dropped: [DroppedCandidate], transitions: [(String, String, HealthTransition)])
    {
        var candidates: [SelectionCandidate] = []
        var dropped: [DroppedCandidate] = []
        var transitions: [(String, String, HealthTransition)] = []
        let dayKey = BudgetLedger.periodKeys(now).0
        let seconds = now.timeIntervalSince1970
        let maintenance = openMaintenanceWindows(at: now)
        members.withLock { list in
            candidates.reserveCapacity(list.count)
            for index in list.indices {
                if let t = list[index].health.rollWindow(to: dayKey) {
                    transitions.append((list[index].model.id, list[index].model.provider, t))
                }
                // The model is read through its handle, not copied out of the member: a
                // configuration copy per member was a tenth of the decision's cost.
                let handle = list[index].handle
                if !maintenance.isEmpty,
                    let until = Self.maintenanceEnd(of: handle.model, in: maintenance)
                {
                    dropped.append(.init(handle.model, .maintenanceWindow(until: until)))
                    continue
                }
                let admission = list[index].health.admission(at: now)
                if admission == .excluded {
                    let health = list[index].health
                    dropped.append(.init(handle.model, .standby(reason: health.reason, until: health.cooldownUntil)))
                    continue
                }
                switch handle.availability {
                case .available: break
                // During an outage the models' own recovery probes test the provider.
                case .outage where admission == .probe: break
                case .outage, .unavailable:
                    dropped.append(.init(handle.model, .providerUnavailable))
                    continue
                }
                if let reason = request.unmetRequirement(of: handle.model) {
                    dropped.append(.init(handle.model, reason))
                    continue
                }
                if budget.hasLimits {
                    let estimate = request.estimatedCost(on: handle.model)
                    let scopes = BudgetLedger.scopes(model: handle.model.id, provider: handle.model.provider, pool: nil)
                    if let refusal = budget.check(scopes: Array(scopes.dropFirst()), estimate: estimate, now: now) {
                        dropped.append(.init(handle.model, .budgetExceeded(limit: refusal.limit)))
                        continue
                    }
                }
                var candidate = SelectionCandidate(
                    modelID: handle.model.id, providerID: handle.model.provider, position: index,
                    pricing: handle.model.pricing, weight: list[index].weight, latency: list[index].latency,
                    rateLimit: list[index].rateLimit, requestsLastMinute: list[index].rate.count(at: seconds),
                    isProbe: admission == .probe)
                candidate.handle = handle
                candidates.append(candidate)
            }
        }
        var context = request.selectionContext(pool: id, now: now)
        context.isDryRun = dryRun
        return (strategy.order(candidates, context: context), dropped, transitions)
    }

    /// The maintenance windows open at `now`, each with the time it closes.
    private func openMaintenanceWindows(at now: Date) -> [(window: MaintenanceWindow, until: Date)] {
        let windows = configuration.deactivation.maintenanceWindows
        guard !windows.isEmpty else { return [] }
        return windows.compactMap { window in window.openUntil(now).map { (window, $0) } }
    }

    /// When the last open window covering `model` closes; `nil` when none covers it.
    private static func maintenanceEnd(
        of model: ModelConfiguration, in open: [(window: MaintenanceWindow, until: Date)]
    ) -> Date? {
        open.filter { $0.window.covers(model: model.id, provider: model.provider) }.map(\.until).max()
    }

    /// Whether `model` is inside one of the pool's maintenance windows at `now`.
    func inMaintenance(_ model: ModelConfiguration, at now: Date) -> Bool {
        let open = openMaintenanceWindows(at: now)
        return !open.isEmpty && Self.maintenanceEnd(of: model, in: open) != nil
    }

    /// Starts a new quota window (UTC day) for members whose window passed; returns the
    /// models that came back because their usage limit reset.
    func rollQuotaWindows(now: Date) -> [(String, String, HealthTransition)] {
        let dayKey = BudgetLedger.periodKeys(now).0
        return members.withLock { list in
            var transitions: [(String, String, HealthTransition)] = []
            for index in list.indices {
                if let t = list[index].health.rollWindow(to: dayKey) {
                    transitions.append((list[index].model.id, list[index].model.provider, t))
                }
            }
            return transitions
        }
    }

    // MARK: Outcomes

    /// Claims the half-open probe slot of a standby model; false if another request has it,
    /// the model is no longer due, or it is inside a maintenance window.
    func claimProbe(_ modelID: String, now: Date) -> Bool {
        members.withLock { list in
            guard let i = list.firstIndex(where: { $0.model.id == modelID }) else { return false }
            if inMaintenance(list[i].model, at: now) { return false }
            switch list[i].health.admission(at: now) {
            case .active: return true
            case .excluded: return false
            case .probe:
                list[i].health.beginProbe()
                return true
            }
        }
    }

    /// Claims a probe of a standby model ahead of its cooldown (`recovery.probe_on_start`);
    /// false when the model is active, out for a reason a probe cannot clear, already being
    /// probed, or inside a maintenance window.
    func claimEarlyProbe(_ modelID: String, now: Date) -> Bool {
        members.withLock { list in
            guard let i = list.firstIndex(where: { $0.model.id == modelID }) else { return false }
            if inMaintenance(list[i].model, at: now) { return false }
            return list[i].health.beginEarlyProbe()
        }
    }

    func recordStart(_ modelID: String, now: Date) {
        members.withLock { list in
            guard let i = list.firstIndex(where: { $0.model.id == modelID }) else { return }
            list[i].rate.record(at: now.timeIntervalSince1970)
        }
    }

    func recordSuccess(_ modelID: String, latency: Double, tokens: Int, cost: Double, rateLimit: RateLimitStatus?,
        checkLimits: Bool = true, now: Date) -> [HealthTransition]
    {
        members.withLock { list in
            guard let i = list.firstIndex(where: { $0.model.id == modelID }) else { return [] }
            // EWMA with weight 0.3 on the newest sample.
            list[i].latency = list[i].latency.map { $0 * 0.7 + latency * 0.3 } ?? latency
            if let rateLimit { list[i].rateLimit = rateLimit }
            return list[i].health.recordSuccess(
                tokens: tokens, cost: cost, policy: configuration.deactivation, checkLimits: checkLimits, now: now)
        }
    }

    func recordFailure(_ modelID: String, error: ProviderError, now: Date) -> HealthTransition? {
        members.withLock { list in
            guard let i = list.firstIndex(where: { $0.model.id == modelID }) else { return nil }
            if let rateLimit = error.rateLimit { list[i].rateLimit = rateLimit }
            guard error.errorClass.countsAsModelFailure else {
                list[i].health.releaseProbe()
                if error.errorClass == .quotaExhausted {
                    return list[i].health.deactivate(.quotaExhausted, recovery: configuration.recovery, at: now)
                }
                return nil
            }
            return list[i].health.recordFailure(
                status: error.status, policy: configuration.deactivation, recovery: configuration.recovery, now: now)
        }
    }

    /// Forces a model out (manual, provider-level); nil when it already was out for that reason.
    func deactivate(_ modelID: String, reason: DeactivationReason, now: Date) -> HealthTransition? {
        members.withLock { list in
            guard let i = list.firstIndex(where: { $0.model.id == modelID }) else { return nil }
            if list[i].health.state == .standby, list[i].health.reason == reason { return nil }
            // A provider-level outage does not overwrite a more specific reason.
            if reason == .providerDeactivated, list[i].health.state == .standby { return nil }
            return list[i].health.deactivate(reason, recovery: configuration.recovery, at: now)
        }
    }

    /// Brings a model back; nil when it was active. With `onlyIf`, only models out for
    /// that reason come back.
    func activate(_ modelID: String, trigger: String, onlyIf reason: DeactivationReason? = nil, now: Date)
        -> HealthTransition?
    {
        members.withLock { list in
            guard let i = list.firstIndex(where: { $0.model.id == modelID }), list[i].health.state == .standby
            else { return nil }
            if let reason, list[i].health.reason != reason { return nil }
            return list[i].health.activate(trigger: trigger, at: now)
        }
    }

    /// The state of every member, for `describe()`.
    func describeMembers(now: Date) -> [ModelStatus] {
        members.withLock { list in
            list.enumerated().map { index, m in
                ModelStatus(
                    modelID: m.model.id, providerID: m.model.provider, position: index, state: m.health.state,
                    reason: m.health.reason?.rawValue, cooldownUntil: m.health.cooldownUntil,
                    consecutiveFailures: m.health.consecutiveFailures, errorRate: m.health.errorRate,
                    latency: m.latency, requestsToday: m.health.requests, tokensToday: m.health.tokens,
                    costToday: m.health.cost, downtimeSeconds: m.health.totalDowntime(at: now),
                    probeDue: m.health.admission(at: now) == .probe && !inMaintenance(m.model, at: now))
            }
        }
    }

    /// Member states for storage.
    func persistedMembers() -> [String: MeshStateSnapshot.Member] {
        members.withLock { list in
            Dictionary(list.map { ($0.model.id, $0.health.persisted) }, uniquingKeysWith: { a, _ in a })
        }
    }

    /// Restores member states saved by ``persistedMembers()``; unknown ids are ignored.
    func restoreMembers(_ saved: [String: MeshStateSnapshot.Member]) {
        members.withLock { list in
            for i in list.indices {
                if let state = saved[list[i].model.id] { list[i].health.restore(state) }
            }
        }
    }

    /// Each member's usage not yet added to the shared counters (handed over: the caller
    /// shares it or gives it back).
    func takeUnsyncedUsage() -> [(modelID: String, windowKey: String, delta: ModelHealth.UsageDelta)] {
        members.withLock { list in
            list.indices.compactMap { i in
                list[i].health.takeUnsynced().map { (list[i].model.id, $0.windowKey, $0.delta) }
            }
        }
    }

    func restoreUnsyncedUsage(_ modelID: String, _ delta: ModelHealth.UsageDelta, windowKey: String) {
        members.withLock { list in
            guard let i = list.firstIndex(where: { $0.model.id == modelID }) else { return }
            list[i].health.restoreUnsynced(delta, windowKey: windowKey)
        }
    }

    /// Sets a member's day counters to the mesh's totals; the deactivation when they reached a
    /// usage limit, and whether this replica's own usage took them there.
    func absorbSharedUsage(
        _ modelID: String, windowKey: String, total: ModelHealth.UsageDelta, crossedBy own: ModelHealth.UsageDelta?,
        now: Date
    ) -> (transition: HealthTransition, announce: Bool)? {
        members.withLock { list in
            guard let i = list.firstIndex(where: { $0.model.id == modelID }) else { return nil }
            return list[i].health.absorbShared(
                windowKey: windowKey, total: total, crossedBy: own, policy: configuration.deactivation, now: now)
        }
    }

    /// The state of one member (nil: not a member).
    func state(of modelID: String) -> ModelState? {
        members.withLock { list in list.first { $0.model.id == modelID }?.health.state }
    }

    /// Takes over a member state another replica published.
    func adopt(_ modelID: String, _ shared: MeshStateSnapshot.Member, now: Date) {
        members.withLock { list in
            guard let i = list.firstIndex(where: { $0.model.id == modelID }) else { return }
            list[i].health.adopt(shared, at: now)
        }
    }

    /// Whether every member of `provider` in this pool is out for health reasons.
    func allFailing(provider: String) -> Bool? {
        members.withLock { list in
            let mine = list.filter { $0.model.provider == provider }
            guard !mine.isEmpty else { return nil }
            return mine.allSatisfy {
                $0.health.state == .standby && ($0.health.reason == .errorThreshold || $0.health.reason == .errorRate)
            }
        }
    }
}

/// A member that the filter stage dropped, and why.
public struct DroppedCandidate: Sendable, Hashable, Codable {
    public var modelID: String
    public var providerID: String
    public var reason: FilterReason

    init(_ model: ModelConfiguration, _ reason: FilterReason) {
        modelID = model.id
        providerID = model.provider
        self.reason = reason
    }
}

/// Why the filter stage dropped a member.
public enum FilterReason: Sendable, Hashable, Codable, CustomStringConvertible {
    case standby(reason: DeactivationReason?, until: Date?)
    case providerUnavailable
    case deliveryMode(String)
    case missingFeature(String)
    case contextWindow(needed: Int, window: Int)
    case budgetExceeded(limit: String)
    /// Inside a scheduled maintenance window (`deactivation.maintenance_window`) until `until`.
    case maintenanceWindow(until: Date)

    /// A stable code: `standby`, `provider_unavailable`, `delivery_mode`, `missing_feature`,
    /// `context_window`, `budget_exceeded`, `maintenance_window`.
    public var code: String {
        switch self {
        case .standby: "standby"
        case .providerUnavailable: "provider_unavailable"
        case .deliveryMode: "delivery_mode"
        case .missingFeature: "missing_feature"
        case .contextWindow: "context_window"
        case .budgetExceeded: "budget_exceeded"
        case .maintenanceWindow: "maintenance_window"
        }
    }

    public var description: String {
        switch self {
        case .standby(let reason, let until):
            var text = "in standby"
            if let reason { text += " (\(reason.rawValue))" }
            if let until { text += " until \(Timestamp.format(until))" }
            return text
        case .providerUnavailable: return "its provider is deactivated"
        case .deliveryMode(let mode): return "does not support \(mode) delivery"
        case .missingFeature(let f): return "lacks the feature '\(f)' the request needs"
        case .contextWindow(let needed, let window):
            return "context window \(window) tokens is smaller than the ~\(needed) the request needs"
        case .budgetExceeded(let limit): return "over budget (\(limit))"
        case .maintenanceWindow(let until): return "in its maintenance window until \(Timestamp.format(until))"
        }
    }
}

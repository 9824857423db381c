import Foundation

/// Whether a pool member takes traffic.
public enum ModelState: String, Sendable, Codable {
    /// Eligible for routing.
    case active
    /// Out of routing until it recovers.
    case standby
}

/// Why a model left ACTIVE. Raw values are the `reason` of `model_deactivated` events.
public enum DeactivationReason: String, Sendable, Codable, CaseIterable {
    case errorThreshold = "error_threshold"
    case errorRate = "error_rate"
    case authFailure = "auth_failure"
    case budgetExceeded = "budget_exceeded"
    case quotaExhausted = "quota_exhausted"
    case requestLimit = "request_limit"
    case tokenLimit = "token_limit"
    case manual
    case providerDeactivated = "provider_deactivated"
    /// Its provider no longer lists it (`discovery.sync.on_deprecated_model: deactivate`);
    /// it comes back when the provider lists it again, or by hand.
    case deprecated

    /// Whether the model comes back through a half-open probe once its cooldown passed.
    /// Usage limits come back when their window resets; manual and provider-level
    /// deactivations need an explicit action or the provider's recovery.
    var recoversByProbe: Bool {
        switch self {
        case .errorThreshold, .errorRate, .quotaExhausted: true
        default: false
        }
    }

    /// Whether the model comes back on its own when the cooldown passes, without a probe.
    var recoversAtCooldown: Bool {
        switch self {
        case .requestLimit, .tokenLimit, .budgetExceeded: true
        default: false
        }
    }
}

/// A lifecycle change of one pool member, to be published as an event.
enum HealthTransition: Sendable, Equatable {
    case deactivated(reason: DeactivationReason, cooldownUntil: Date?)
    case activated(trigger: String)
}

/// The health of one model inside one pool: a value-type state machine, driven by request
/// outcomes and time, that returns the transitions it made.
struct ModelHealth: Sendable {
    private(set) var state: ModelState = .active
    private(set) var reason: DeactivationReason?
    private(set) var cooldownUntil: Date?
    private(set) var deactivatedAt: Date?
    /// Failed probes since the last deactivation; grows the cooldown.
    private(set) var cooldownLevel = 0
    private(set) var consecutiveFailures = 0
    /// A half-open probe request is in flight; no second request may probe at once.
    private(set) var probeInFlight = false
    /// Recent outcomes (true = failure), newest last, for the windowed error rate.
    private var window: [Bool] = []
    private(set) var windowFailures = 0
    // Usage inside the current quota window (UTC day).
    private(set) var windowKey = ""
    private(set) var requests = 0
    private(set) var tokens = 0
    private(set) var cost = 0.0
    /// Usage counted here and not yet added to the shared counters (several replicas).
    private(set) var unsynced = UsageDelta()
    /// Time spent out of ACTIVE before the current standby period.
    private(set) var downtime: Double = 0

    var errorRate: Double { window.isEmpty ? 0 : Double(windowFailures) / Double(window.count) }

    /// The part of the state that survives a restart.
    var persisted: MeshStateSnapshot.Member {
        .init(
            state: state, reason: reason, cooldownUntil: cooldownUntil, cooldownLevel: cooldownLevel,
            deactivatedAt: deactivatedAt,
            usage: .init(windowKey: windowKey, requests: requests, tokens: tokens, cost: cost))
    }

    /// Restores a persisted state with its usage counters; failure history starts afresh.
    mutating func restore(_ saved: MeshStateSnapshot.Member) {
        state = saved.state
        reason = saved.reason
        cooldownUntil = saved.cooldownUntil
        cooldownLevel = saved.cooldownLevel
        deactivatedAt = saved.deactivatedAt
        if let usage = saved.usage {
            windowKey = usage.windowKey
            requests = usage.requests
            tokens = usage.tokens
            cost = usage.cost
        }
    }

    /// Takes over a state another replica published: the same state, reason and cooldown.
    /// A probe running here keeps its slot until it ends.
    mutating func adopt(_ shared: MeshStateSnapshot.Member, at now: Date) {
        guard shared.state == .standby, let reason = shared.reason else {
            if state != .active { _ = activate(trigger: "replica", at: now) }
            return
        }
        let probing = probeInFlight
        _ = deactivate(reason, until: shared.cooldownUntil, at: shared.deactivatedAt ?? now)
        cooldownLevel = shared.cooldownLevel
        probeInFlight = probing
    }

    /// Whether a request may be sent now: active, or due for a half-open probe that nobody
    /// else is running.
    func admission(at now: Date) -> Admission {
        switch state {
        case .active: return .active
        case .standby:
            guard let reason, let until = cooldownUntil, now >= until else { return .excluded }
            if reason.recoversAtCooldown { return .active }
            if reason.recoversByProbe && !probeInFlight { return .probe }
            return .excluded
        }
    }

    enum Admission: Equatable { case active, probe, excluded }

    /// Usage limits reset at the start of a UTC day; called before reading or counting usage.
    mutating func rollWindow(to key: String) -> HealthTransition? {
        guard key != windowKey else { return nil }
        windowKey = key
        requests = 0
        tokens = 0
        cost = 0
        unsynced = UsageDelta()
        if state == .standby, let reason, reason.recoversAtCooldown {
            return activate(trigger: "quota_reset", at: nil)
        }
        return nil
    }

    mutating func beginProbe() { probeInFlight = true }

    /// Claims a probe before the cooldown passed (`recovery.probe_on_start`): only for a
    /// model out for a reason a probe can clear, and not while another probe runs.
    mutating func beginEarlyProbe() -> Bool {
        guard state == .standby, reason?.recoversByProbe == true, !probeInFlight else { return false }
        probeInFlight = true
        return true
    }

    /// Requests, tokens and cost of one UTC day.
    struct UsageDelta: Sendable, Equatable {
        var requests = 0
        var tokens = 0
        var cost = 0.0
        var isEmpty: Bool { requests == 0 && tokens == 0 && cost == 0 }
    }

    /// Hands over the usage not yet shared (and forgets it); nil when there is none.
    mutating func takeUnsynced() -> (windowKey: String, delta: UsageDelta)? {
        guard !unsynced.isEmpty, !windowKey.isEmpty else { return nil }
        defer { unsynced = UsageDelta() }
        return (windowKey, unsynced)
    }

    /// Takes back usage that could not be shared, to try again.
    mutating func restoreUnsynced(_ delta: UsageDelta, windowKey key: String) {
        guard key == windowKey else { return }
        unsynced.requests += delta.requests
        unsynced.tokens += delta.tokens
        unsynced.cost += delta.cost
    }

    /// Sets the day's counters to the mesh's totals (plus what this replica counted since).
    /// Returns the deactivation when the totals reached a limit; `announce` is whether this
    /// replica's own usage took them there (it reports the transition, the others follow).
    mutating func absorbShared(
        windowKey key: String, total: UsageDelta, crossedBy own: UsageDelta?, policy: DeactivationPolicy, now: Date
    ) -> (transition: HealthTransition, announce: Bool)? {
        // A replica that has not routed to the model yet starts its window with the mesh's.
        if windowKey.isEmpty { windowKey = key }
        guard key == windowKey else { return nil }
        requests = total.requests + unsynced.requests
        tokens = total.tokens + unsynced.tokens
        cost = total.cost + unsynced.cost
        guard state == .active, let reason = usageLimitReached(policy) else { return nil }
        var announce = false
        if let own {
            let before = ModelHealth.Limits(
                requests: total.requests - own.requests, tokens: total.tokens - own.tokens, cost: total.cost - own.cost)
            announce = !before.reached(policy)
        }
        return (deactivate(reason, until: nil, at: now), announce)
    }

    private struct Limits {
        var requests: Int
        var tokens: Int
        var cost: Double
        func reached(_ policy: DeactivationPolicy) -> Bool {
            if let limit = policy.budgetLimit, cost >= limit { return true }
            if let limit = policy.tokenLimit, tokens >= limit { return true }
            if let limit = policy.requestLimit, requests >= limit { return true }
            return false
        }
    }

    /// Records a successful request; a half-open probe success reactivates the model.
    /// `checkLimits` is false when the usage limits are checked against the mesh's shared
    /// counters instead.
    mutating func recordSuccess(
        tokens used: Int, cost spent: Double, policy: DeactivationPolicy, checkLimits: Bool = true, now: Date
    ) -> [HealthTransition] {
        var transitions: [HealthTransition] = []
        consecutiveFailures = 0
        push(failure: false, window: policy.errorRateWindow)
        requests += 1
        tokens += used
        cost += spent
        unsynced.requests += 1
        unsynced.tokens += used
        unsynced.cost += spent
        if state == .standby, probeInFlight || reason?.recoversAtCooldown == true {
            transitions.append(activate(trigger: probeInFlight ? "probe_success" : "cooldown_expired", at: now))
        }
        probeInFlight = false
        if checkLimits, state == .active, let limitReason = usageLimitReached(policy) {
            transitions.append(deactivate(limitReason, until: nil, at: now))
        }
        return transitions
    }

    /// Records a failure that says something about the model's health.
    mutating func recordFailure(status: Int?, policy: DeactivationPolicy, recovery: RecoveryPolicy, now: Date)
        -> HealthTransition?
    {
        let counts = status.map { policy.errorCodes.contains($0) } ?? true
        if counts {
            consecutiveFailures += 1
            push(failure: true, window: policy.errorRateWindow)
        }
        requests += 1
        unsynced.requests += 1
        if state == .standby {
            guard probeInFlight else { return nil }
            // A failed probe: stay out, longer.
            probeInFlight = false
            cooldownLevel += 1
            cooldownUntil = now.adding(cooldown(recovery))
            return nil
        }
        guard counts else { return nil }
        if consecutiveFailures >= policy.retryLimit {
            return deactivate(.errorThreshold, until: now.adding(cooldown(recovery)), at: now)
        }
        if window.count >= policy.errorRateWindow, errorRate >= policy.errorRateThreshold {
            return deactivate(.errorRate, until: now.adding(cooldown(recovery)), at: now)
        }
        return nil
    }

    /// Records a failure that does not count toward health (the caller's own mistake):
    /// it only releases a probe slot.
    mutating func releaseProbe() { probeInFlight = false }

    /// Takes the model out for `reason` (no-op when already out for the same reason).
    mutating func deactivate(_ reason: DeactivationReason, until: Date?, at now: Date) -> HealthTransition {
        if state == .active { deactivatedAt = now }
        state = .standby
        self.reason = reason
        cooldownUntil = until
        probeInFlight = false
        return .deactivated(reason: reason, cooldownUntil: until)
    }

    /// Deactivates with the pool's cooldown.
    mutating func deactivate(_ reason: DeactivationReason, recovery: RecoveryPolicy, at now: Date) -> HealthTransition {
        deactivate(reason, until: reason.recoversByProbe ? now.adding(cooldown(recovery)) : nil, at: now)
    }

    /// Returns the model to ACTIVE and clears its failure history.
    mutating func activate(trigger: String, at now: Date?) -> HealthTransition {
        if let since = deactivatedAt, let now { downtime += max(0, now.timeIntervalSince(since)) }
        state = .active
        reason = nil
        cooldownUntil = nil
        deactivatedAt = nil
        cooldownLevel = 0
        consecutiveFailures = 0
        probeInFlight = false
        window.removeAll(keepingCapacity: true)
        windowFailures = 0
        return .activated(trigger: trigger)
    }

    /// Seconds out of ACTIVE so far, including a standby period still running.
    func totalDowntime(at now: Date) -> Double {
        downtime + (deactivatedAt.map { max(0, now.timeIntervalSince($0)) } ?? 0)
    }

    private func cooldown(_ recovery: RecoveryPolicy) -> Duration {
        let seconds = recovery.cooldown.seconds * pow(recovery.backoffMultiplier, Double(cooldownLevel))
        return .seconds(min(seconds, recovery.maxCooldown.seconds))
    }

    private func usageLimitReached(_ policy: DeactivationPolicy) -> DeactivationReason? {
        if let limit = policy.budgetLimit, cost >= limit { return .budgetExceeded }
        if let limit = policy.tokenLimit, tokens >= limit { return .tokenLimit }
        if let limit = policy.requestLimit, requests >= limit { return .requestLimit }
        return nil
    }

    private mutating func push(failure: Bool, window size: Int) {
        window.append(failure)
        if failure { windowFailures += 1 }
        while window.count > max(1, size) {
            if window.removeFirst() { windowFailures -= 1 }
        }
    }
}

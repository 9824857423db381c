import Foundation
import Logging

/// The routing engine: resolve, filter, order, and walk the chain with retries and
/// rotation. Outcomes go to the ``HealthCoordinator``; request logs to the
/// ``RequestRecorder``.
///
/// One instance serves a whole mesh. It holds no lock of its own on the request path:
/// pools, providers and the budget ledger each guard their own state.
final class Router: Sendable {
    /// The current topology; a request reads it once when it resolves its pool, so a reload
    /// never moves a request that is under way.
    let topologyCell: TopologyCell
    var topology: MeshTopology { topologyCell.current }
    let health: HealthCoordinator
    let ledger: BudgetLedger
    let recorder: RequestRecorder
    let clock: any MeshClock
    let jitter: @Sendable () -> Double

    init(
        topology: TopologyCell, health: HealthCoordinator, ledger: BudgetLedger, recorder: RequestRecorder,
        clock: any MeshClock, jitter: @escaping @Sendable () -> Double
    ) {
        topologyCell = topology
        self.health = health
        self.ledger = ledger
        self.recorder = recorder
        self.clock = clock
        self.jitter = jitter
    }

    // MARK: Plan

    struct Plan {
        var pool: CapabilityPool
        var chain: [SelectionCandidate]
        var dropped: [DroppedCandidate]
    }

    func plan(_ pool: CapabilityPool, profile: RequestProfile, now: Date, dryRun: Bool = false) -> Plan {
        // Models back from a usage-limit reset must reach the strategy before it orders.
        health.planned(pool.rollQuotaWindows(now: now), pool: pool)
        var result = pool.plan(profile, budget: ledger, now: now, dryRun: dryRun)
        if let only = profile.onlyModel {
            result.chain.removeAll { $0.modelID != only }
            result.dropped.removeAll { $0.modelID != only }
        }
        health.planned(result.transitions, pool: pool)
        return Plan(pool: pool, chain: result.chain, dropped: result.dropped)
    }

    /// Replaces a reservation with the real cost (nil: unknown, the reservation is kept as spent).
    func settle(_ reservation: BudgetLedger.Reservation, actual: Double?) {
        if let shared = health.shared {
            shared.settle(reservation, actual: actual, now: clock.now())
        } else {
            ledger.settle(reservation, actual: actual, now: clock.now())
        }
        health.spendChanged()
    }

    /// Gives a reservation back (the attempt was not billed).
    func release(_ reservation: BudgetLedger.Reservation) {
        if let shared = health.shared { shared.release(reservation) } else { ledger.release(reservation) }
    }

    /// Reserves an attempt's worst-case cost: in the shared store when there is one.
    func reserve(_ model: ModelConfiguration, pool: CapabilityPool, estimate: Double) async
        -> Result<BudgetLedger.Reservation, SharedState.ReserveFailure>
    {
        guard ledger.hasLimits else {
            return ledger.reserve(scopes: [], estimate: estimate, now: clock.now()).mapError { .budget($0) }
        }
        let scopes = BudgetLedger.scopes(model: model.id, provider: model.provider, pool: pool.id)
        if let shared = health.shared {
            return await shared.reserve(scopes: scopes, estimate: estimate, now: clock.now(), poolID: pool.id)
        }
        return ledger.reserve(scopes: scopes, estimate: estimate, now: clock.now()).mapError { .budget($0) }
    }

    /// Claims a half-open probe for the whole mesh (one replica probes at a time).
    func claimSharedProbe(_ model: ModelConfiguration, pool: CapabilityPool) async -> Bool {
        guard let shared = health.shared else { return true }
        return await shared.claimProbe(pool: pool.id, model: model.id, for: pool.configuration.retry.timeout)
    }

    // MARK: Attempt loop

    /// One request's journey along the chain; shared by completions, streams and embeddings.
    struct Journey {
        let requestID: String
        let pool: CapabilityPool
        let profile: RequestProfile
        let start: Date
        let deadline: Date
        var attempts: [AttemptRecord] = []
        var previousModel: String?
        var lastError: ProviderError?
        /// After a context-length error: the largest declared window that was refused.
        var refusedWindow: Int?
        /// The attempts resume a broken stream with an assistant prefill.
        var isContinuation = false
        /// The first model tried: `retry.scope` keeps later attempts near it.
        var firstCandidate: SelectionCandidate?
        /// The request's spans (nil: not traced).
        var trace: RequestTrace?
        /// The span of the attempt that succeeded last: its caller ends it with the answer.
        var openAttempt: AttemptSpan?

        /// The candidates of `chain` this journey may still move on to under `scope`.
        func inScope(_ chain: [SelectionCandidate], _ scope: RetryScope) -> [SelectionCandidate] {
            guard let first = firstCandidate, scope != .any else { return chain }
            return chain.filter { scope.allows($0, after: first) }
        }
    }

    func beginJourney(pool: CapabilityPool, profile: RequestProfile, requestID: String?) -> Journey {
        let now = clock.now()
        return Journey(
            requestID: requestID ?? RequestID.next(), pool: pool, profile: profile, start: now,
            deadline: now.adding(pool.configuration.retry.timeout))
    }

    /// The error of a request whose caller went away.
    func cancelled(_ journey: Journey) -> ModelMeshError {
        ModelMeshError(
            .cancelled, "The caller cancelled the request", poolID: journey.pool.id, attempts: journey.attempts)
    }

    /// Runs `call` along the chain with retries and rotation until it succeeds.
    ///
    /// - Parameter call: performs one attempt; returns the value, its usage (nil when
    ///   unknown) and the upstream's rate-limit report.
    func run<Value: Sendable>(
        _ journey: inout Journey, chain: [SelectionCandidate],
        call: (ModelHandle, any ProviderConnector, AttemptContext) async throws -> (Value, Usage?, RateLimitStatus?)
    ) async throws -> (Value, ModelConfiguration, Usage?, BudgetLedger.Reservation) {
        let pool = journey.pool
        let retry = pool.configuration.retry
        var queue = journey.inScope(chain, retry.scope)
        var next = 0
        while next < queue.count {
            // A caller gone before this candidate: nothing is sent for it.
            if Task.isCancelled {
                throw cancelled(journey)
            }
            let candidate = queue[next]
            next += 1
            guard let handle = candidate.handle ?? topology.handles[candidate.modelID], let connector = handle.connector
            else { continue }
            let model = handle.model
            if let refused = journey.refusedWindow, let window = model.contextWindow, window <= refused { continue }
            switch handle.availability {
            case .available: break
            case .outage where candidate.isProbe: break
            case .outage, .unavailable: continue
            }
            guard pool.claimProbe(model.id, now: clock.now()) else { continue }
            if candidate.isProbe, !(await claimSharedProbe(model, pool: pool)) {
                // Another replica is probing it; its outcome arrives within a poll interval.
                health.abandoned(model, pool: pool)
                continue
            }
            if journey.firstCandidate == nil {
                journey.firstCandidate = candidate
                queue = Array(queue[..<next]) + journey.inScope(Array(queue[next...]), retry.scope)
            }
            let reservation: BudgetLedger.Reservation
            switch await reserve(model, pool: pool, estimate: journey.profile.estimatedCost(on: model)) {
            case .success(let r): reservation = r
            case .failure(.unavailable(let error)):
                if candidate.isProbe { health.abandoned(model, pool: pool) }
                throw error
            case .failure(.budget(let error)):
                if candidate.isProbe { health.abandoned(model, pool: pool) }
                let scope = error.refusal.limit
                if scope.hasPrefix("global.") || scope.hasPrefix("pool:") {
                    throw error.meshError(poolID: pool.id)
                }
                continue
            }
            var attempt = 0
            // A half-open probe gets one attempt: a failing model must not hold the request.
            let attemptsHere = candidate.isProbe ? 1 : max(1, retry.maxAttempts)
            attemptLoop: while attempt < attemptsHere {
                attempt += 1
                if let previous = journey.previousModel, previous != model.id {
                    health.rotated(
                        from: previous, to: model, pool: pool,
                        reason: journey.lastError?.errorClass.rawValue ?? "unknown", requestID: journey.requestID)
                }
                let rotatedFrom = journey.previousModel == model.id ? nil : journey.previousModel
                journey.previousModel = model.id
                let now = clock.now()
                guard now < journey.deadline else {
                    release(reservation)
                    throw journeyTimeout(journey)
                }
                health.attemptStarted(model.id, pool: pool)
                let attemptDeadline = handle.timeout.map { min(journey.deadline, now.adding($0)) } ?? journey.deadline
                let context = AttemptContext(
                    requestID: journey.requestID, deadline: attemptDeadline, attempt: attempt, clock: clock)
                let attemptSpan = journey.trace.map {
                    startAttemptSpan($0, journey: journey, model: model, attempt: attempt, rotatedFrom: rotatedFrom,
                        reservation: reservation)
                }
                do {
                    let (value, usage, rateLimit) = try await AttemptSpan.run(attemptSpan) {
                        try await call(handle, connector, context)
                    }
                    journey.openAttempt = attemptSpan
                    let latency = clock.now().timeIntervalSince(now)
                    journey.attempts.append(
                        AttemptRecord(
                            modelID: model.id, providerID: model.provider, errorClass: nil, status: 200,
                            latencyMs: latency * 1000))
                    health.succeeded(
                        handle, pool: pool, latency: latency, usage: usage, rateLimit: rateLimit,
                        context: journey.profile.selectionContext(pool: pool.id, now: clock.now()))
                    return (value, model, usage, reservation)
                } catch {
                    let failure = ProviderError.classify(error)
                    attemptSpan?.failed(failure)
                    if failure.errorClass == .cancelled || Task.isCancelled {
                        release(reservation)
                        health.abandoned(model, pool: pool)
                        throw cancelled(journey)
                    }
                    let latency = clock.now().timeIntervalSince(now)
                    journey.attempts.append(
                        AttemptRecord(
                            modelID: model.id, providerID: model.provider, errorClass: failure.errorClass.rawValue,
                            status: failure.status, latencyMs: latency * 1000))
                    journey.lastError = failure
                    recorder.trace(
                        .warning,
                        "Attempt \(attempt) on \(model.id) failed: \(failure.errorClass.rawValue)"
                            + (failure.status.map { " (\($0))" } ?? ""),
                        journey: journey, model: model.id)
                    let decision = AttemptDecision.after(
                        failure, attempt: attempt, of: attemptsHere, retry: retry,
                        rotateOnContentPolicy: pool.configuration.rotateOnContentPolicy,
                        isContinuation: journey.isContinuation, timeLeft: journey.deadline.timeIntervalSince(clock.now()).duration,
                        jitter: jitter())
                    if decision != .rejectPrefillAndRotate { health.failed(model, pool: pool, error: failure) }
                    switch decision {
                    case .retry(let delay):
                        do {
                            try await clock.sleep(for: delay)
                        } catch {
                            // The caller left while the retry waited: nothing is in flight.
                            release(reservation)
                            throw cancelled(journey)
                        }
                    case .rotate:
                        break attemptLoop
                    case .rotateToLargerWindow:
                        if let window = model.contextWindow {
                            journey.refusedWindow = max(journey.refusedWindow ?? 0, window)
                        }
                        queue = ContextWindowFallback.remaining(
                            Array(queue[next...]), window: { self.topology.models[$0.modelID]?.contextWindow },
                            failedWindow: journey.refusedWindow)
                        next = 0
                        break attemptLoop
                    case .deactivateProviderAndRotate:
                        health.deactivateProvider(model.provider, reason: .authFailure, detail: failure.message)
                        break attemptLoop
                    case .rejectPrefillAndRotate:
                        health.rejectedPrefill(model.id)
                        health.abandoned(model, pool: pool)
                        break attemptLoop
                    case .fail:
                        release(reservation)
                        throw upstreamError(failure, journey: journey)
                    }
                }
            }
            release(reservation)
            health.checkOutage(of: model.provider)
        }
        throw exhaustedError(journey)
    }
}

extension TimeInterval {
    /// The interval as a `Duration` (negative intervals become zero).
    var duration: Duration { .seconds(Swift.max(0, self)) }
}

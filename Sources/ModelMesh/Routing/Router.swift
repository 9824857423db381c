import Foundation
import Logging

/// The routing engine: resolve, filter, order, attempt, retry, rotate, deactivate.
///
/// One instance serves a whole mesh. It holds no lock of its own on the request path:
/// pools, providers and the budget ledger each guard their own state.
final class Router: Sendable {
    let pools: [CapabilityPool]
    let poolsByID: [String: CapabilityPool]
    /// Implicit one-model routes for requests that name a model id.
    let modelRoutes: [String: CapabilityPool]
    let models: [String: ModelConfiguration]
    /// Every configured model, resolved.
    let handles: [String: ModelHandle]
    let connectors: [String: any ProviderConnector]
    let providerConfigs: [String: ProviderConfiguration]
    let providerHealth: [String: ProviderHealth]
    let tree: CapabilityTree
    let emitter: EventEmitter
    let ledger: BudgetLedger
    let clock: any MeshClock
    let jitter: @Sendable () -> Double
    let statistics: StatisticsCollector
    let requestLog: RequestLogSettings
    let logger = Logger(label: "modelmesh.router")

    init(
        pools: [CapabilityPool], modelRoutes: [String: CapabilityPool], handles: [String: ModelHandle],
        connectors: [String: any ProviderConnector], providerConfigs: [String: ProviderConfiguration],
        providerHealth: [String: ProviderHealth],
        tree: CapabilityTree, emitter: EventEmitter, ledger: BudgetLedger, clock: any MeshClock,
        jitter: @escaping @Sendable () -> Double, statistics: StatisticsCollector, requestLog: RequestLogSettings
    ) {
        self.pools = pools
        poolsByID = Dictionary(pools.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        self.modelRoutes = modelRoutes
        self.handles = handles
        models = handles.mapValues(\.model)
        self.connectors = connectors
        self.providerConfigs = providerConfigs
        self.providerHealth = providerHealth
        self.tree = tree
        self.emitter = emitter
        self.ledger = ledger
        self.clock = clock
        self.jitter = jitter
        self.statistics = statistics
        self.requestLog = requestLog
    }

    // MARK: Resolve

    /// Step 1: a pool id; else a capability alias or path served by a pool (config order);
    /// else a configured model id.
    func resolve(_ name: String) throws -> CapabilityPool {
        try route(name).pool
    }

    /// Resolves a name to a pool, restricted to one member when the name is a model id.
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

    // MARK: Plan

    struct Plan {
        var pool: CapabilityPool
        var chain: [SelectionCandidate]
        var dropped: [DroppedCandidate]
    }

    func plan(_ pool: CapabilityPool, profile: RequestProfile, now: Date, dryRun: Bool = false) -> Plan {
        var result = pool.plan(profile, budget: ledger, now: now, dryRun: dryRun)
        if let only = profile.onlyModel {
            result.chain.removeAll { $0.modelID != only }
            result.dropped.removeAll { $0.modelID != only }
        }
        for (model, provider, transition) in result.transitions {
            publish(transition, model: model, provider: provider, pool: pool)
        }
        return Plan(pool: pool, chain: result.chain, dropped: result.dropped)
    }

    /// The error for a plan with an empty chain.
    func emptyChainError(_ plan: Plan) -> ModelMeshError {
        let reasons = plan.dropped.map { "\($0.modelID): \($0.reason)" }.joined(separator: "; ")
        if !plan.dropped.isEmpty, plan.dropped.allSatisfy({ $0.reason.code == "budget_exceeded" }) {
            let limit = plan.dropped.first.flatMap { if case .budgetExceeded(let l) = $0.reason { l } else { nil } }
            return ModelMeshError(
                .budgetExceeded, "Every model of pool '\(plan.pool.id)' is over budget (\(reasons))",
                hint: "Raise the provider or model budget, or wait for the period to reset", poolID: plan.pool.id,
                limit: limit, remaining: 0)
        }
        if !plan.dropped.isEmpty, plan.dropped.allSatisfy({ $0.reason.code == "context_window" }) {
            return ModelMeshError(
                .contextLengthExceeded, "The request does not fit the context window of any model in pool "
                    + "'\(plan.pool.id)' (\(reasons))", hint: "Shorten the conversation or lower max_tokens",
                poolID: plan.pool.id)
        }
        if !plan.dropped.isEmpty, plan.dropped.allSatisfy({ $0.reason.code == "missing_feature" }) {
            return ModelMeshError(
                .invalidRequest, "No model in pool '\(plan.pool.id)' supports this request (\(reasons))",
                hint: "Add a model with the needed feature to the pool", poolID: plan.pool.id)
        }
        return ModelMeshError(
            .noActiveModel,
            "No active model in pool '\(plan.pool.id)'" + (reasons.isEmpty ? " (the pool has no members)" : ": \(reasons)"),
            hint: "GET /v1/mesh/state shows who is out and until when", poolID: plan.pool.id)
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
        /// After a context-length error, only models with a larger window may be tried.
        var minimumWindow: Int?
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
        for candidate in chain {
            guard let handle = candidate.handle ?? handles[candidate.modelID], let connector = handle.connector else {
                continue
            }
            let model = handle.model
            if let minimum = journey.minimumWindow, (model.contextWindow ?? 0) <= minimum { continue }
            switch handle.availability {
            case .available: break
            case .outage where candidate.isProbe: break
            case .outage, .unavailable: continue
            }
            guard pool.claimProbe(model.id, now: clock.now()) else { continue }
            let reservation: BudgetLedger.Reservation
            switch ledger.reserve(
                scopes: ledger.hasLimits ? BudgetLedger.scopes(model: model.id, provider: model.provider, pool: pool.id) : [],
                estimate: journey.profile.estimatedCost(on: model), now: clock.now())
            {
            case .success(let r): reservation = r
            case .failure(let error):
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
                    emitRotation(from: previous, to: model, pool: pool, journey: journey)
                }
                journey.previousModel = model.id
                let now = clock.now()
                guard now < journey.deadline else {
                    ledger.release(reservation)
                    throw timeoutError(journey)
                }
                pool.recordStart(model.id, now: now)
                let providerTimeout = handle.timeout
                let attemptDeadline = providerTimeout.map { min(journey.deadline, now.adding($0)) } ?? journey.deadline
                let context = AttemptContext(
                    requestID: journey.requestID, deadline: attemptDeadline, attempt: attempt, clock: clock)
                do {
                    let (value, usage, rateLimit) = try await call(handle, connector, context)
                    let latency = clock.now().timeIntervalSince(now)
                    journey.attempts.append(
                        AttemptRecord(
                            modelID: model.id, providerID: model.provider, errorClass: nil, status: 200,
                            latencyMs: latency * 1000))
                    recordSuccess(handle, pool: pool, latency: latency, usage: usage, rateLimit: rateLimit,
                        journey: journey)
                    return (value, model, usage, reservation)
                } catch {
                    let failure = ProviderError.classify(error)
                    if failure.errorClass == .cancelled || Task.isCancelled {
                        ledger.release(reservation)
                        pool.recordFailure(model.id, error: ProviderError(.cancelled, message: "cancelled"), now: clock.now())
                            .map { publish($0, model: model.id, provider: model.provider, pool: pool) }
                        throw ModelMeshError(.cancelled, "The caller cancelled the request", poolID: pool.id,
                            attempts: journey.attempts)
                    }
                    let latency = clock.now().timeIntervalSince(now)
                    journey.attempts.append(
                        AttemptRecord(
                            modelID: model.id, providerID: model.provider, errorClass: failure.errorClass.rawValue,
                            status: failure.status, latencyMs: latency * 1000))
                    journey.lastError = failure
                    trace(
                        .warning,
                        "Attempt \(attempt) on \(model.id) failed: \(failure.errorClass.rawValue)"
                            + (failure.status.map { " (\($0))" } ?? ""),
                        journey: journey, model: model.id)
                    recordFailure(model: model, pool: pool, error: failure)
                    switch failure.errorClass {
                    case .authentication:
                        deactivateProvider(model.provider, reason: .authFailure, detail: failure.message)
                        break attemptLoop
                    case .contextLength:
                        journey.minimumWindow = max(journey.minimumWindow ?? 0, model.contextWindow ?? Int.max)
                        break attemptLoop
                    case .contentPolicy where !pool.configuration.rotateOnContentPolicy,
                        .invalidRequest, .cancelled:
                        ledger.release(reservation)
                        throw upstreamError(failure, journey: journey)
                    case .rateLimited, .serverError, .connection:
                        guard attempt < attemptsHere,
                            let delay = retry.delay(afterAttempt: attempt, retryAfter: failure.retryAfter, jitter: jitter()),
                            clock.now().adding(delay) < journey.deadline
                        else { break attemptLoop }
                        try await clock.sleep(for: delay)
                    default:
                        // Timeouts (a silent upstream), unknown models, exhausted quota, broken
                        // streams: not worth repeating on the same model.
                        break attemptLoop
                    }
                }
            }
            ledger.release(reservation)
            checkProviderOutage(model.provider)
        }
        throw exhaustedError(journey)
    }

    // MARK: Outcomes

    func recordSuccess(_ handle: ModelHandle, pool: CapabilityPool, latency: Double, usage: Usage?,
        rateLimit: RateLimitStatus?, journey: Journey)
    {
        let model = handle.model
        let now = clock.now()
        let cost = usage.flatMap { u in model.pricing?.cost(of: u) } ?? 0
        let transitions = pool.recordSuccess(
            model.id, latency: latency, tokens: usage?.totalTokens ?? 0, cost: cost, rateLimit: rateLimit, now: now)
        for t in transitions { publish(t, model: model.id, provider: model.provider, pool: pool) }
        pool.strategy.didSucceed(modelID: model.id, context: journey.profile.selectionContext(pool: pool.id, now: now))
        if let health = handle.provider {
            if let change = health.record(success: true) { publishHealth(change, provider: model.provider) }
            if health.snapshot.deactivation == .outage { recoverProvider(model.provider, trigger: "traffic_success") }
        }
    }

    func recordFailure(model: ModelConfiguration, pool: CapabilityPool, error: ProviderError) {
        if let t = pool.recordFailure(model.id, error: error, now: clock.now()) {
            publish(t, model: model.id, provider: model.provider, pool: pool)
        }
        if error.errorClass.countsAsModelFailure, let change = providerHealth[model.provider]?.record(success: false) {
            publishHealth(change, provider: model.provider)
        }
    }

    /// A provider whose every model, in every pool that has one, is failing is in an outage.
    func checkProviderOutage(_ provider: String) {
        let verdicts = allPools.compactMap { $0.allFailing(provider: provider) }
        if !verdicts.isEmpty, verdicts.allSatisfy({ $0 }) {
            deactivateProvider(provider, reason: .outage, detail: "every model of the provider is failing")
        }
    }

    var allPools: [CapabilityPool] { pools + Array(modelRoutes.values) }

    func deactivateProvider(_ provider: String, reason: ProviderDeactivationReason, detail: String) {
        guard let health = providerHealth[provider], health.deactivate(reason, at: clock.now()) else { return }
        let affected = Array(Set(allPools.flatMap { $0.models.filter { $0.provider == provider }.map(\.id) })).sorted()
        emitter.emit(
            RoutingEvent(
                eventType: .providerDeactivated, timestamp: clock.now(), providerID: provider,
                metadata: ["reason": .string(reason.rawValue), "models": .array(affected.map(JSONValue.string)),
                    "detail": .string(detail)]))
        for pool in allPools {
            for model in pool.models where model.provider == provider {
                if let t = pool.deactivate(model.id, reason: .providerDeactivated, now: clock.now()) {
                    publish(t, model: model.id, provider: provider, pool: pool)
                }
            }
        }
    }

    func recoverProvider(_ provider: String, trigger: String) {
        guard let health = providerHealth[provider], health.recover() else { return }
        emitter.emit(
            RoutingEvent(
                eventType: .providerRecovered, timestamp: clock.now(), providerID: provider,
                metadata: ["trigger": .string(trigger)]))
        for pool in allPools {
            for model in pool.models where model.provider == provider {
                if let t = pool.activate(model.id, trigger: "provider_recovered", onlyIf: .providerDeactivated,
                    now: clock.now())
                {
                    publish(t, model: model.id, provider: provider, pool: pool)
                }
            }
        }
    }

    // MARK: Events

    func publish(_ transition: HealthTransition, model: String, provider: String, pool: CapabilityPool) {
        let now = clock.now()
        switch transition {
        case .deactivated(let reason, let until):
            var metadata: [String: JSONValue] = ["reason": .string(reason.rawValue)]
            metadata["cooldown_until"] = until.map { .string(Timestamp.format($0)) } ?? .null
            emitter.emit(
                RoutingEvent(
                    eventType: .modelDeactivated, timestamp: now, modelID: model, providerID: provider, poolID: pool.id,
                    metadata: metadata))
            statistics.modelLeftActive(model, at: now)
        case .activated(let trigger):
            emitter.emit(
                RoutingEvent(
                    eventType: .modelActivated, timestamp: now, modelID: model, providerID: provider, poolID: pool.id,
                    metadata: ["trigger": .string(trigger)]))
            statistics.modelReturned(model, at: now)
            pool.strategy.didActivate(modelID: model)
        }
    }

    func publishHealth(_ change: ProviderHealth.Change, provider: String) {
        switch change {
        case .band(let old, let new, let band):
            emitter.emit(
                RoutingEvent(
                    eventType: .providerHealthChanged, timestamp: clock.now(), providerID: provider,
                    metadata: ["old_score": .double(Self.rounded(old)), "new_score": .double(Self.rounded(new)),
                        "state": .string(band.rawValue)]))
        }
    }

    func emitRotation(from: String, to model: ModelConfiguration, pool: CapabilityPool, journey: Journey) {
        statistics.recordRotation(pool: pool.id)
        emitter.emit(
            RoutingEvent(
                eventType: .modelRotated, timestamp: clock.now(), modelID: model.id, providerID: model.provider,
                poolID: pool.id,
                metadata: ["from_model": .string(from), "to_model": .string(model.id),
                    "reason": .string(journey.lastError?.errorClass.rawValue ?? "unknown"),
                    "request_id": .string(journey.requestID)]))
    }

    static func rounded(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }

    // MARK: Errors

    func upstreamError(_ failure: ProviderError, journey: Journey) -> ModelMeshError {
        let code: ModelMeshError.Code =
            switch failure.errorClass {
            case .contentPolicy: .contentPolicy
            case .contextLength: .contextLengthExceeded
            default: .upstream
            }
        return ModelMeshError(
            code, failure.message, hint: nil, status: failure.status ?? 400, poolID: journey.pool.id,
            attempts: journey.attempts, retryAfter: failure.retryAfter)
    }

    /// Sends a trace to the connectors when its severity passes the configured minimum.
    func trace(_ severity: TraceSeverity, _ message: @autoclosure () -> String, journey: Journey, model: String?) {
        guard severity >= requestLog.traceMinSeverity else { return }
        var metadata: [String: JSONValue] = ["request_id": .string(journey.requestID), "pool": .string(journey.pool.id)]
        if let model { metadata["model"] = .string(model) }
        emitter.trace(
            TraceEntry(
                severity: severity, timestamp: clock.now(), component: "router",
                message: requestLog.redactor.mask(message()), metadata: metadata))
    }

    func exhaustedError(_ journey: Journey) -> ModelMeshError {
        let list = journey.attempts.map { a in
            "\(a.modelID) (\(a.errorClass ?? "ok")\(a.status.map { " \($0)" } ?? ""))"
        }
        if journey.attempts.isEmpty {
            return ModelMeshError(
                .noActiveModel, "No model of pool '\(journey.pool.id)' could be tried",
                hint: "GET /v1/mesh/state shows who is out and until when", poolID: journey.pool.id)
        }
        if let last = journey.lastError, last.errorClass == .contextLength {
            return ModelMeshError(
                .contextLengthExceeded,
                "The request exceeds the context window of every model tried in pool '\(journey.pool.id)': "
                    + list.joined(separator: ", "),
                hint: "Shorten the conversation, lower max_tokens, or add a model with a larger window",
                poolID: journey.pool.id, attempts: journey.attempts)
        }
        trace(.error, "Every candidate of pool '\(journey.pool.id)' failed: " + list.joined(separator: ", "),
            journey: journey, model: nil)
        let allRateLimited = journey.attempts.allSatisfy { $0.errorClass == ProviderErrorClass.rateLimited.rawValue }
        return ModelMeshError(
            .allCandidatesFailed,
            "All candidates of pool '\(journey.pool.id)' failed after \(journey.attempts.count) attempts: "
                + list.joined(separator: ", "),
            hint: "GET /v1/mesh/state shows each model's state; retry later",
            status: allRateLimited ? 429 : 502, poolID: journey.pool.id, attempts: journey.attempts,
            retryAfter: allRateLimited ? journey.lastError?.retryAfter : nil)
    }

    func timeoutError(_ journey: Journey) -> ModelMeshError {
        ModelMeshError(
            .timeout,
            "The request to pool '\(journey.pool.id)' ran out of time (retry.timeout) after \(journey.attempts.count) attempts",
            hint: "Raise the pool's retry.timeout", poolID: journey.pool.id, attempts: journey.attempts)
    }
}

/// How request log entries are produced.
struct RequestLogSettings: Sendable {
    var level: RequestLogLevel = .metadata
    var redactor: RequestLogRedactor
    /// Traces below this severity are not built at all.
    var traceMinSeverity: TraceSeverity = .info

    init(level: RequestLogLevel, secrets: [String], redact: Bool = true, traceMinSeverity: TraceSeverity = .info) {
        self.level = level
        self.traceMinSeverity = traceMinSeverity
        redactor = RequestLogRedactor(level: level, knownSecrets: secrets, redactSecrets: redact)
    }
}


import Foundation
import Synchronization

/// Aggregates request outcomes, rotations and downtime per model, provider and pool, and
/// flushes snapshots to the observability connectors.
///
/// Recording is cheap and scales with concurrency: scopes are spread over independently
/// locked shards, so requests on different models rarely touch the same lock and no lock
/// is held while a snapshot computes percentiles.
///
/// Counting rules:
/// - a pool counts each routed request once (success: status 2xx and no error), with the
///   request's end-to-end latency, tokens and cost;
/// - a model or provider counts each *attempt* made on it (so failovers show up as failures of
///   the model that failed), with the attempt's latency; tokens and cost go to the model and
///   provider that answered;
/// - latency percentiles (nearest rank) cover the last `reservoirSize` samples of the scope,
///   the average covers every sample since start-up;
/// - downtime is the time a scope spent out of ACTIVE, including a period still running.
///
/// ```swift
/// let statistics = StatisticsCollector(clock: clock)
/// statistics.record(entry)                               // after every request
/// try await statistics.run(every: .seconds(60), emitter: emitter)   // until cancelled
/// ```
public final class StatisticsCollector: Sendable {
    private struct ScopeState: Sendable {
        var stats = AggregateStats()
        var latency: LatencyReservoir
        /// When the scope left ACTIVE, while it is out.
        var downSince: Date?

        mutating func count(succeeded: Bool, latencyMs: Double) {
            stats.requestsTotal += 1
            if succeeded { stats.requestsSuccess += 1 } else { stats.requestsFailed += 1 }
            latency.add(latencyMs)
        }

        mutating func addUsage(tokensIn: Int, tokensOut: Int, cost: Double) {
            stats.tokensIn += tokensIn
            stats.tokensOut += tokensOut
            stats.costTotal += cost
        }
    }

    private final class Shard: Sendable {
        // Keyed by the scope itself: a `model:<id>` string would be built on every request.
        let scopes = Mutex<[StatisticsScope: ScopeState]>([:])
    }

    private let shards: [Shard]
    private let clock: any MeshClock
    private let reservoirSize: Int

    /// A collector reading time from `clock`, keeping `reservoirSize` latency samples per scope.
    public init(clock: any MeshClock = SystemClock(), reservoirSize: Int = 2048, shardCount: Int = 16) {
        self.clock = clock
        self.reservoirSize = reservoirSize
        shards = (0..<max(1, shardCount)).map { _ in Shard() }
    }

    // MARK: Recording

    /// Records one routed request from its log entry (see the counting rules above).
    public func record(_ entry: RequestLogEntry) {
        let succeeded = entry.error == nil && (200..<300).contains(entry.status)
        let answeredModel = entry.modelID ?? entry.attempts.last?.modelID
        let answeredProvider = entry.providerID ?? entry.attempts.last?.providerID
        let cost = entry.cost ?? 0
        if let pool = entry.poolID {
            update(.pool(pool)) {
                $0.count(succeeded: succeeded, latencyMs: entry.latencyMs)
                $0.addUsage(tokensIn: entry.tokensIn, tokensOut: entry.tokensOut, cost: cost)
            }
        }
        if entry.attempts.isEmpty {
            if let answeredModel {
                update(.model(answeredModel)) { $0.count(succeeded: succeeded, latencyMs: entry.latencyMs) }
            }
            if let answeredProvider {
                update(.provider(answeredProvider)) { $0.count(succeeded: succeeded, latencyMs: entry.latencyMs) }
            }
        } else {
            for attempt in entry.attempts {
                let ok = attempt.errorClass == nil
                update(.model(attempt.modelID)) { $0.count(succeeded: ok, latencyMs: attempt.latencyMs) }
                update(.provider(attempt.providerID)) { $0.count(succeeded: ok, latencyMs: attempt.latencyMs) }
            }
        }
        if let answeredModel {
            update(.model(answeredModel)) { $0.addUsage(tokensIn: entry.tokensIn, tokensOut: entry.tokensOut, cost: cost) }
        }
        if let answeredProvider {
            update(.provider(answeredProvider)) {
                $0.addUsage(tokensIn: entry.tokensIn, tokensOut: entry.tokensOut, cost: cost)
            }
        }
    }

    /// Records one request outcome on the given scopes (each `nil` scope is skipped).
    public func recordRequest(
        model: String?, provider: String?, pool: String?, succeeded: Bool, latencyMs: Double,
        tokensIn: Int = 0, tokensOut: Int = 0, cost: Double = 0
    ) {
        let scopes = [
            model.map(StatisticsScope.model), provider.map(StatisticsScope.provider), pool.map(StatisticsScope.pool),
        ]
        for scope in scopes {
            guard let scope else { continue }
            update(scope) {
                $0.count(succeeded: succeeded, latencyMs: latencyMs)
                $0.addUsage(tokensIn: tokensIn, tokensOut: tokensOut, cost: cost)
            }
        }
    }

    /// Counts one rotation in `pool` (and, when given, on the model the request left).
    public func recordRotation(pool: String, fromModel: String? = nil) {
        update(.pool(pool)) { $0.stats.rotationEvents += 1 }
        if let fromModel { update(.model(fromModel)) { $0.stats.rotationEvents += 1 } }
    }

    /// Adds `seconds` of downtime to `scope`.
    public func recordDowntime(_ scope: StatisticsScope, seconds: Double) {
        guard seconds > 0 else { return }
        update(scope) { $0.stats.downtimeTotal += seconds }
    }

    /// Adds `seconds` of downtime to a model.
    public func recordDowntime(model: String, seconds: Double) { recordDowntime(.model(model), seconds: seconds) }

    /// Notes that `scope` left ACTIVE at `date` (default: now); ignored if it is already out.
    public func leftActive(_ scope: StatisticsScope, at date: Date? = nil) {
        let now = date ?? clock.now()
        update(scope) { state in
            if state.downSince == nil { state.downSince = now }
        }
    }

    /// Notes that `scope` returned to ACTIVE at `date` (default: now), adding the time it was out.
    public func returnedToActive(_ scope: StatisticsScope, at date: Date? = nil) {
        let now = date ?? clock.now()
        update(scope) { state in
            guard let since = state.downSince else { return }
            state.stats.downtimeTotal += max(0, now.timeIntervalSince(since))
            state.downSince = nil
        }
    }

    /// Notes that a model left ACTIVE at `date` (default: now).
    public func modelLeftActive(_ model: String, at date: Date? = nil) { leftActive(.model(model), at: date) }

    /// Notes that a model returned to ACTIVE at `date` (default: now).
    public func modelReturned(_ model: String, at date: Date? = nil) { returnedToActive(.model(model), at: date) }

    // MARK: Reading

    /// The statistics of every scope seen so far, keyed `model:<id>`, `provider:<id>`, `pool:<id>`.
    public func snapshot() -> [String: AggregateStats] {
        let now = clock.now()
        var copies: [String: ScopeState] = [:]
        for shard in shards {
            shard.scopes.withLock { scopes in
                for (scope, state) in scopes { copies[scope.key] = state }
            }
        }
        // Percentiles sort the samples; done here, outside every lock.
        return copies.mapValues { state in
            var stats = state.stats
            let p = state.latency.percentiles([0.5, 0.95, 0.99])
            stats.latencyAvg = state.latency.average
            (stats.latencyP50, stats.latencyP95, stats.latencyP99) = (p[0], p[1], p[2])
            if let since = state.downSince { stats.downtimeTotal += max(0, now.timeIntervalSince(since)) }
            return stats
        }
    }

    /// The statistics of one scope, if it was seen.
    public func statistics(for scope: StatisticsScope) -> AggregateStats? { snapshot()[scope.key] }

    /// Sends a snapshot to every connector of `emitter` (nothing when no scope was seen yet).
    public func flush(to emitter: EventEmitter) {
        let stats = snapshot()
        guard !stats.isEmpty else { return }
        emitter.flush(stats)
    }

    /// Flushes to `emitter` every `interval` until the task is cancelled, then flushes once more.
    ///
    /// - Parameter clock: the clock to sleep on (default: the collector's clock).
    public func run(every interval: Duration, emitter: EventEmitter, clock: (any MeshClock)? = nil) async {
        let clock = clock ?? self.clock
        while !Task.isCancelled {
            do { try await clock.sleep(for: interval) } catch { break }
            flush(to: emitter)
        }
        flush(to: emitter)
    }

    // MARK: Internals

    private func update(_ scope: StatisticsScope, _ body: (inout ScopeState) -> Void) {
        let shard = shards[Int(UInt(bitPattern: scope.hashValue) % UInt(shards.count))]
        shard.scopes.withLock { scopes in
            body(&scopes[scope, default: ScopeState(latency: LatencyReservoir(capacity: reservoirSize))])
        }
    }
}

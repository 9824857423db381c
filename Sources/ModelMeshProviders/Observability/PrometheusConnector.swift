import CoreMetrics
import Foundation
import ModelMesh
import Prometheus
import Synchronization

/// The `modelmesh.prometheus.v1` observability connector: turns request logs, routing
/// events and budget alert traces into Prometheus metrics, served by the proxy at `GET /metrics`.
///
/// Metrics are created through swift-metrics against a ``PrometheusCollectorRegistry`` the
/// connector owns (or is given); nothing touches the global `MetricsSystem`, so several
/// servers and tests can run side by side. The metric names are listed in `MetricNames`.
///
/// ```swift
/// let prometheus = PrometheusConnector()
/// mesh.events.subscribe(prometheus)
/// print(prometheus.exposition())
/// ```
public final class PrometheusConnector: ObservabilityConnector {
    /// The connector ID.
    public static let id = "modelmesh.prometheus.v1"

    /// The registry holding every metric of this connector.
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory

    /// Cached metric handles of the request path, sharded by pool and model.
    final class HandleShard: Sendable {
        /// A pool and a model: the dimensions most request metrics share.
        struct Scope: Hashable {
            var pool: String
            var model: String
        }

        /// The handles of one scope; request counters by status.
        struct ScopeHandles {
            var duration: CoreMetrics.Timer
            var cost: CoreMetrics.FloatingPointCounter
            var tokensIn: CoreMetrics.Counter
            var tokensOut: CoreMetrics.Counter
            var requests: [Int: CoreMetrics.Counter] = [:]
        }

        struct AttemptKey: Hashable {
            var model: String
            var provider: String
            var outcome: String
        }

        struct Cache {
            var scopes: [Scope: ScopeHandles] = [:]
            var attempts: [AttemptKey: CoreMetrics.Counter] = [:]
        }
        let handles = Mutex(Cache())
    }

    private let handleShards: [HandleShard] = (0..<16).map { _ in HandleShard() }

    struct ResponseKey: Hashable {
        var endpoint: String
        var status: Int
    }

    /// `modelmesh_http_responses_total` handles by endpoint and status.
    private let responseCounters = Mutex<[ResponseKey: CoreMetrics.Counter]>([:])

    /// Makes a connector over `registry` (a new one by default).
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[MetricNames.requestDuration] = [
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
            .seconds(30), .seconds(60), .seconds(120),
        ]
        self.factory = factory
    }

    /// Builds the connector from its configuration settings (it has none yet).
    public static func make(settings: [String: JSONValue] = [:]) throws -> PrometheusConnector {
        PrometheusConnector()
    }

    /// The metrics in the Prometheus text exposition format.
    public func exposition() -> String { registry.emitToString() }

    // MARK: ObservabilityConnector

    public func log(_ entry: RequestLogEntry) throws {
        let handles = handles(for: entry)
        handles.requests.increment()
        handles.duration.recordNanoseconds(Int64(max(0, entry.latencyMs) * 1_000_000))
        if entry.tokensIn > 0 { handles.tokensIn.increment(by: entry.tokensIn) }
        if entry.tokensOut > 0 { handles.tokensOut.increment(by: entry.tokensOut) }
        if let cost = entry.cost, cost > 0 { handles.cost.increment(by: cost) }
        for counter in handles.attempts { counter.increment() }
        if entry.status >= 400 || entry.error != nil {
            CoreMetrics.Counter(
                label: MetricNames.requestErrors, dimensions: [("error_class", Self.errorClass(of: entry))],
                factory: factory
            ).increment()
        }
    }

    /// The metric handles one request log entry updates.
    struct RequestHandles {
        var requests: CoreMetrics.Counter
        var duration: CoreMetrics.Timer
        var tokensIn: CoreMetrics.Counter
        var tokensOut: CoreMetrics.Counter
        var cost: CoreMetrics.FloatingPointCounter
        var attempts: [CoreMetrics.Counter]
    }

    /// Looks the handles up in one shard of the cache (one short lock per request rather
    /// than one registry lookup per metric); they are created on first use. The keys are
    /// plain structs: no label string is put together for a request whose handles exist.
    func handles(for entry: RequestLogEntry) -> RequestHandles {
        let scope = HandleShard.Scope(pool: entry.poolID ?? "none", model: entry.modelID ?? "none")
        let shard = handleShards[Int(UInt(bitPattern: scope.hashValue) % UInt(handleShards.count))]
        let factory = factory
        return shard.handles.withLock { cache in
            let poolAndModel = { [("pool", scope.pool), ("model", scope.model)] }
            var handles =
                cache.scopes[scope]
                ?? HandleShard.ScopeHandles(
                    duration: CoreMetrics.Timer(
                        label: MetricNames.requestDuration, dimensions: poolAndModel(), factory: factory),
                    cost: CoreMetrics.FloatingPointCounter(
                        label: MetricNames.cost, dimensions: poolAndModel(), factory: factory),
                    tokensIn: CoreMetrics.Counter(
                        label: MetricNames.tokens, dimensions: poolAndModel() + [("direction", "in")], factory: factory),
                    tokensOut: CoreMetrics.Counter(
                        label: MetricNames.tokens, dimensions: poolAndModel() + [("direction", "out")], factory: factory))
            let requests: CoreMetrics.Counter
            if let existing = handles.requests[entry.status] {
                requests = existing
            } else {
                requests = CoreMetrics.Counter(
                    label: MetricNames.requests, dimensions: poolAndModel() + [("status", String(entry.status))],
                    factory: factory)
                handles.requests[entry.status] = requests
                cache.scopes[scope] = handles
            }
            let attempts = entry.attempts.map { attempt in
                let key = HandleShard.AttemptKey(
                    model: attempt.modelID, provider: attempt.providerID, outcome: attempt.errorClass ?? "success")
                if let existing = cache.attempts[key] { return existing }
                let made = CoreMetrics.Counter(
                    label: MetricNames.upstreamAttempts,
                    dimensions: [("model", key.model), ("provider", key.provider), ("outcome", key.outcome)],
                    factory: factory)
                cache.attempts[key] = made
                return made
            }
            return RequestHandles(
                requests: requests, duration: handles.duration, tokensIn: handles.tokensIn,
                tokensOut: handles.tokensOut, cost: handles.cost, attempts: attempts)
        }
    }

    public func emit(_ event: RoutingEvent) throws {
        switch event.eventType {
        case .modelRotated:
            CoreMetrics.Counter(
                label: MetricNames.rotations,
                dimensions: [
                    ("pool", event.poolID ?? "none"), ("model", event.modelID ?? "none"),
                    ("reason", event.metadata["reason"]?.stringValue ?? "unknown"),
                ], factory: factory
            ).increment()
        case .modelActivated, .modelDeactivated:
            guard let model = event.modelID, let pool = event.poolID else { return }
            setModelActive(pool: pool, model: model, active: event.eventType == .modelActivated)
        case .providerDeactivated:
            CoreMetrics.Counter(
                label: MetricNames.providerDeactivations,
                dimensions: [
                    ("provider", event.providerID ?? "none"),
                    ("reason", event.metadata["reason"]?.stringValue ?? "unknown"),
                ], factory: factory
            ).increment()
        case .providerHealthChanged:
            guard let provider = event.providerID, let score = event.metadata["new_score"]?.doubleValue else { return }
            CoreMetrics.Gauge(
                label: MetricNames.providerHealthScore, dimensions: [("provider", provider)], factory: factory
            )
            .record(score)
        case .poolMembershipChanged:
            // Members a reload or discovery added start active; removed ones leave the gauge.
            guard let pool = event.poolID else { return }
            for model in event.metadata["added"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
                setModelActive(pool: pool, model: model, active: true)
            }
            for model in event.metadata["removed"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
                CoreMetrics.Gauge(
                    label: MetricNames.modelActive, dimensions: [("pool", pool), ("model", model)], factory: factory
                ).destroy()
            }
        case .providerRecovered, .discoveryModelsUpdated:
            break
        }
    }

    /// Counts budget alerts (traces from component `budget` carrying a `scope`); other traces
    /// are not metrics.
    public func trace(_ entry: TraceEntry) throws {
        guard entry.component == BudgetLedger.Alert.component, let scope = entry.metadata["scope"]?.stringValue
        else { return }
        CoreMetrics.Counter(label: MetricNames.budgetAlerts, dimensions: [("scope", scope)], factory: factory)
            .increment()
    }

    /// Sets the model-state gauge, e.g. from ``Mesh/describe()`` at start-up.
    public func setModelActive(pool: String, model: String, active: Bool) {
        CoreMetrics.Gauge(
            label: MetricNames.modelActive, dimensions: [("pool", pool), ("model", model)], factory: factory
        )
        .record(active ? 1 : 0)
    }

    /// Initializes the model-state gauges from the mesh's current state.
    public func seed(from description: MeshDescription) {
        for pool in description.pools {
            for member in pool.members {
                setModelActive(pool: pool.id, model: member.modelID, active: member.state == .active)
            }
        }
    }

    /// Sets `modelmesh_budget_reserved_usd{scope}` to what requests in flight hold against
    /// each budget scope of `ledger`, for this UTC day; call it just before rendering
    /// ``exposition()`` so a scrape sees the reservations of that moment.
    ///
    /// ```swift
    /// prometheus.recordBudgetReservations(mesh.budget)
    /// ```
    public func recordBudgetReservations(_ ledger: BudgetLedger, now: Date = Date()) {
        for scope in ledger.allScopes() {
            CoreMetrics.Gauge(label: MetricNames.budgetReserved, dimensions: [("scope", scope)], factory: factory)
                .record(ledger.spend(of: scope, now: now).reserved)
        }
    }

    /// Sets the shared store's gauges (`modelmesh_storage_available`, `_outages`,
    /// `_pending_writes`).
    public func recordStorage(_ storage: SharedStorageStatus) {
        CoreMetrics.Gauge(label: MetricNames.storageAvailable, factory: factory).record(storage.available ? 1 : 0)
        CoreMetrics.Gauge(label: MetricNames.storageOutages, factory: factory).record(storage.outages)
        CoreMetrics.Gauge(label: MetricNames.storagePendingWrites, factory: factory).record(storage.pendingWrites)
    }

    /// Counts one HTTP response of the proxy (`modelmesh_http_responses_total`).
    public func countResponse(endpoint: String, status: Int) {
        let key = ResponseKey(endpoint: endpoint, status: status)
        let counter = responseCounters.withLock { counters in
            if let existing = counters[key] { return existing }
            let counter = CoreMetrics.Counter(
                label: MetricNames.httpResponses, dimensions: [("endpoint", endpoint), ("status", String(status))],
                factory: factory)
            counters[key] = counter
            return counter
        }
        counter.increment()
    }

    /// The error class of a failed request: the last failed attempt's class, else one
    /// derived from the status (refused before any attempt).
    static func errorClass(of entry: RequestLogEntry) -> String {
        if let failed = entry.attempts.last(where: { $0.errorClass != nil })?.errorClass { return failed }
        switch entry.status {
        case 402: return "budget_exceeded"
        case 404: return "model_not_found"
        case 503: return "no_active_model"
        case 504: return "timeout"
        case 499: return "cancelled"
        case 400..<500: return "invalid_request"
        default: return "server_error"
        }
    }
}

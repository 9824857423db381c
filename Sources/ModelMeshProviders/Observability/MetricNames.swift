/// Every metric name the proxy registers, in one place.
///
/// swift-prometheus traps when one name is registered with two metric types or two label
/// sets, so each name is declared once here and used with the label set documented beside it.
enum MetricNames {
    /// Counter `{pool, model, status}`: routed requests by outcome status.
    static let requests = "modelmesh_requests_total"
    /// Counter `{error_class}`: failed routed requests by error class.
    static let requestErrors = "modelmesh_request_errors_total"
    /// Histogram (seconds) `{pool, model}`: end-to-end latency of routed requests.
    static let requestDuration = "modelmesh_request_duration_seconds"
    /// Counter `{pool, model, direction}` (`in` | `out`): tokens.
    static let tokens = "modelmesh_tokens_total"
    /// Floating counter `{pool, model}`: spend in USD.
    static let cost = "modelmesh_cost_usd_total"
    /// Counter `{model, provider, outcome}` (`success` or an error class): upstream attempts.
    static let upstreamAttempts = "modelmesh_upstream_attempts_total"
    /// Counter `{pool, model, reason}`: rotations to `model`.
    static let rotations = "modelmesh_rotations_total"
    /// Gauge `{pool, model}`: 1 while the model is ACTIVE in the pool, else 0.
    static let modelActive = "modelmesh_model_active"
    /// Counter `{provider, reason}`: provider deactivations.
    static let providerDeactivations = "modelmesh_provider_deactivations_total"
    /// Gauge `{provider}`: the provider's health score, 0...1.
    static let providerHealthScore = "modelmesh_provider_health_score"
    /// Counter `{scope}`: budget alerts, one per scope and period whose settled spend reached
    /// `alert_threshold` × the limit (`global`, `provider:<id>`, `pool:<id>`, `model:<id>`).
    static let budgetAlerts = "modelmesh_budget_alerts_total"
    /// Gauge `{scope}`: USD held by requests in flight against the scope's budget, set at
    /// each scrape; 0 when the mesh is idle.
    static let budgetReserved = "modelmesh_budget_reserved_usd"
    /// Gauge: 1 while the shared store answers, else 0.
    static let storageAvailable = "modelmesh_storage_available"
    /// Gauge (a running count, set at each scrape): times the shared store became unreachable.
    static let storageOutages = "modelmesh_storage_outages"
    /// Gauge: settlements and releases waiting for the shared store.
    static let storagePendingWrites = "modelmesh_storage_pending_writes"
    /// Counter `{endpoint, status}`: every HTTP response of the proxy, including refusals
    /// (401, 413, 429) that never reach the engine.
    static let httpResponses = "modelmesh_http_responses_total"
}

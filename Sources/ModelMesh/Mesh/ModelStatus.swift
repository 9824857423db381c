import Foundation

/// One pool member's state, as `describe()` reports it.
public struct ModelStatus: Sendable, Hashable, Codable {
    public var modelID: String
    public var providerID: String
    public var position: Int
    public var state: ModelState
    public var reason: String?
    public var cooldownUntil: Date?
    public var consecutiveFailures: Int
    public var errorRate: Double
    /// Smoothed latency, seconds.
    public var latency: Double?
    public var requestsToday: Int
    public var tokensToday: Int
    public var costToday: Double
    public var downtimeSeconds: Double
    /// The cooldown passed; the next request will probe the model.
    public var probeDue: Bool
    /// The model refused an assistant prefill; broken streams are not resumed on it.
    public var rejectsPrefill: Bool = false

    enum CodingKeys: String, CodingKey {
        case modelID = "model_id", providerID = "provider_id", position, state, reason
        case cooldownUntil = "cooldown_until", consecutiveFailures = "consecutive_failures"
        case errorRate = "error_rate", latency = "latency_seconds", requestsToday = "requests_today"
        case tokensToday = "tokens_today", costToday = "cost_today", downtimeSeconds = "downtime_seconds"
        case probeDue = "probe_due", rejectsPrefill = "rejects_prefill"
    }
}

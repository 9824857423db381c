import Foundation

/// A destination for the four observability channels: routing events, request logs,
/// aggregate statistics and traces.
///
/// A connector that only wants events implements ``emit(_:)``; the other channels have
/// no-op defaults. Connectors that do I/O must not make the caller wait on it: buffer, write
/// in the background, bound the buffer and count what was dropped.
public protocol ObservabilityConnector: AnyObject, Sendable {
    /// Receives one routing event. Called synchronously on the routing path.
    func emit(_ event: RoutingEvent) throws
    /// Receives one request log entry.
    func log(_ entry: RequestLogEntry) throws
    /// Receives a statistics snapshot keyed by scope (`model:<id>`, `provider:<id>`, `pool:<id>`).
    func flush(_ stats: [String: AggregateStats]) throws
    /// Receives one trace entry.
    func trace(_ entry: TraceEntry) throws
    /// Writes out anything buffered; called at shutdown.
    func shutdown() async
}

extension ObservabilityConnector {
    public func log(_ entry: RequestLogEntry) throws {}
    public func flush(_ stats: [String: AggregateStats]) throws {}
    public func trace(_ entry: TraceEntry) throws {}
    public func shutdown() async {}
}

/// How much of a request a ``RequestLogEntry`` keeps.
public enum RequestLogLevel: String, Sendable, Codable, CaseIterable, Comparable {
    /// Ids, status, latency, tokens, cost.
    case metadata
    /// Also truncated prompt and response text.
    case summary
    /// Also the complete payloads.
    case full

    private var rank: Int {
        switch self {
        case .metadata: 0
        case .summary: 1
        case .full: 2
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
}

/// One routed request, as written to request logs.
public struct RequestLogEntry: Sendable, Codable, Hashable {
    public var requestID: String
    public var timestamp: Date
    public var poolID: String?
    public var modelID: String?
    public var providerID: String?
    public var capability: String?
    /// `synchronous` or `streaming`.
    public var deliveryMode: String
    /// HTTP-style status of the outcome (200 on success).
    public var status: Int
    public var latencyMs: Double
    public var tokensIn: Int
    public var tokensOut: Int
    public var cost: Double?
    public var error: String?
    /// Every attempt made, in order.
    public var attempts: [AttemptRecord]
    /// Truncated prompt/response (level `summary`) or full payloads (level `full`).
    public var prompt: String?
    public var response: String?

    public init(
        requestID: String, timestamp: Date, poolID: String? = nil, modelID: String? = nil,
        providerID: String? = nil, capability: String? = nil, deliveryMode: String = "synchronous",
        status: Int, latencyMs: Double, tokensIn: Int = 0, tokensOut: Int = 0, cost: Double? = nil,
        error: String? = nil, attempts: [AttemptRecord] = [], prompt: String? = nil, response: String? = nil
    ) {
        self.requestID = requestID
        self.timestamp = timestamp
        self.poolID = poolID
        self.modelID = modelID
        self.providerID = providerID
        self.capability = capability
        self.deliveryMode = deliveryMode
        self.status = status
        self.latencyMs = latencyMs
        self.tokensIn = tokensIn
        self.tokensOut = tokensOut
        self.cost = cost
        self.error = error
        self.attempts = attempts
        self.prompt = prompt
        self.response = response
    }

    enum CodingKeys: String, CodingKey {
        case requestID = "request_id", timestamp, poolID = "pool_id", modelID = "model_id"
        case providerID = "provider_id", capability, deliveryMode = "delivery_mode", status
        case latencyMs = "latency_ms", tokensIn = "tokens_in", tokensOut = "tokens_out", cost, error
        case attempts, prompt, response
    }
}

/// One attempt of a routed request on one model.
public struct AttemptRecord: Sendable, Codable, Hashable {
    public var modelID: String
    public var providerID: String
    /// The error class of a failed attempt (`rate_limited`, `server_error`, ...), nil on success.
    public var errorClass: String?
    /// The upstream HTTP status, if there was one.
    public var status: Int?
    public var latencyMs: Double

    public init(modelID: String, providerID: String, errorClass: String?, status: Int?, latencyMs: Double) {
        self.modelID = modelID
        self.providerID = providerID
        self.errorClass = errorClass
        self.status = status
        self.latencyMs = latencyMs
    }

    enum CodingKeys: String, CodingKey {
        case modelID = "model_id", providerID = "provider_id", errorClass = "error_class", status
        case latencyMs = "latency_ms"
    }
}

/// Aggregated statistics of one scope (a model, a provider or a pool) since start-up.
public struct AggregateStats: Sendable, Codable, Hashable {
    public var requestsTotal: Int = 0
    public var requestsSuccess: Int = 0
    public var requestsFailed: Int = 0
    public var tokensIn: Int = 0
    public var tokensOut: Int = 0
    public var costTotal: Double = 0
    public var latencyAvg: Double = 0
    public var latencyP50: Double = 0
    public var latencyP95: Double = 0
    public var latencyP99: Double = 0
    /// Seconds spent out of ACTIVE.
    public var downtimeTotal: Double = 0
    public var rotationEvents: Int = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case requestsTotal = "requests_total", requestsSuccess = "requests_success"
        case requestsFailed = "requests_failed", tokensIn = "tokens_in", tokensOut = "tokens_out"
        case costTotal = "cost_total", latencyAvg = "latency_avg", latencyP50 = "latency_p50"
        case latencyP95 = "latency_p95", latencyP99 = "latency_p99", downtimeTotal = "downtime_total"
        case rotationEvents = "rotation_events"
    }
}

/// Severity of a ``TraceEntry``, ordered from `debug` to `critical`.
public enum TraceSeverity: String, Sendable, Codable, CaseIterable, Comparable {
    case debug, info, warning, error, critical

    private var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }
}

/// One internal trace record (component, message, severity).
public struct TraceEntry: Sendable, Codable, Hashable {
    public var severity: TraceSeverity
    public var timestamp: Date
    /// e.g. `router`, `pool.<id>`, `provider.<id>`.
    public var component: String
    public var message: String
    public var metadata: [String: JSONValue]

    public init(
        severity: TraceSeverity, timestamp: Date = Date(), component: String, message: String,
        metadata: [String: JSONValue] = [:]
    ) {
        self.severity = severity
        self.timestamp = timestamp
        self.component = component
        self.message = message
        self.metadata = metadata
    }
}

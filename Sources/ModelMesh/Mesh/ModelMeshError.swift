import Foundation

/// An error of the routing engine, with a stable code, the status it maps to at the HTTP
/// edge, and a hint on how to fix it.
public struct ModelMeshError: Error, Sendable, CustomStringConvertible {
    /// Stable error codes.
    public enum Code: String, Sendable, Codable {
        /// The requested model is neither a pool, a capability nor a model id (404).
        case modelNotFound = "model_not_found"
        /// Every candidate of the pool is filtered out or inactive (503).
        case noActiveModel = "no_active_model"
        /// Every candidate failed (502).
        case allCandidatesFailed = "all_candidates_failed"
        /// A spend limit would be breached (402).
        case budgetExceeded = "budget_exceeded"
        /// The request is malformed (400).
        case invalidRequest = "invalid_request_error"
        /// The upstream refused the content (400).
        case contentPolicy = "content_policy_violation"
        /// The prompt fits no candidate (400).
        case contextLengthExceeded = "context_length_exceeded"
        /// A stream broke after output reached the caller and could not be resumed.
        case streamInterrupted = "stream_interrupted"
        /// The overall request deadline passed (504).
        case timeout = "timeout"
        /// The caller cancelled.
        case cancelled = "cancelled"
        /// The mesh is shut down (503).
        case shutDown = "shut_down"
        /// An upstream's answer passed to the caller as is (its own status).
        case upstream = "upstream_error"
    }

    public var code: Code
    public var message: String
    /// What to do about it.
    public var hint: String?
    /// The HTTP status this error maps to.
    public var status: Int
    /// The pool the request resolved to, if any.
    public var poolID: String?
    /// Every attempt made before the error.
    public var attempts: [AttemptRecord]
    /// For upstream errors: the upstream's `Retry-After`.
    public var retryAfter: Duration?
    /// For budget errors: which limit (`global.daily`, `provider:<id>.monthly`, ...).
    public var limit: String?
    /// For budget errors: what is left of that limit, USD.
    public var remaining: Double?
    /// For `model_not_found`: the nearest known names.
    public var suggestions: [String]

    public init(
        _ code: Code, _ message: String, hint: String? = nil, status: Int? = nil, poolID: String? = nil,
        attempts: [AttemptRecord] = [], retryAfter: Duration? = nil, limit: String? = nil, remaining: Double? = nil,
        suggestions: [String] = []
    ) {
        self.code = code
        self.message = message
        self.hint = hint
        self.status = status ?? Self.defaultStatus(code)
        self.poolID = poolID
        self.attempts = attempts
        self.retryAfter = retryAfter
        self.limit = limit
        self.remaining = remaining
        self.suggestions = suggestions
    }

    static func defaultStatus(_ code: Code) -> Int {
        switch code {
        case .modelNotFound: 404
        case .noActiveModel, .shutDown: 503
        case .allCandidatesFailed, .streamInterrupted: 502
        case .budgetExceeded: 402
        case .invalidRequest, .contentPolicy, .contextLengthExceeded: 400
        case .timeout: 504
        case .cancelled: 499
        case .upstream: 502
        }
    }

    public var description: String {
        var text = "\(code.rawValue): \(message)"
        if let hint { text += " (\(hint))" }
        return text
    }
}

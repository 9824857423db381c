import Foundation

/// An error of the routing engine, with a stable code, the status it maps to at the HTTP
/// edge, and a hint on how to fix it.
public struct ModelMeshError: Error, Sendable, CustomStringConvertible {
    /// A stable error code. A struct rather than an enum, so that adding a code is not a
    /// breaking change for code that switches over them: compare with `==` or match the
    /// static members in a `switch` with a `default` case.
    public struct Code: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
        public let rawValue: String

        public init(rawValue: String) { self.rawValue = rawValue }

        public var description: String { rawValue }

        /// The requested model is neither a pool, a capability nor a model id (404).
        public static let modelNotFound = Code(rawValue: "model_not_found")
        /// Every candidate of the pool is filtered out or inactive (503).
        public static let noActiveModel = Code(rawValue: "no_active_model")
        /// Every candidate failed (502).
        public static let allCandidatesFailed = Code(rawValue: "all_candidates_failed")
        /// A spend limit would be breached (402).
        public static let budgetExceeded = Code(rawValue: "budget_exceeded")
        /// The request is malformed (400).
        public static let invalidRequest = Code(rawValue: "invalid_request_error")
        /// The upstream refused the content (400).
        public static let contentPolicy = Code(rawValue: "content_policy_violation")
        /// The prompt fits no candidate (400).
        public static let contextLengthExceeded = Code(rawValue: "context_length_exceeded")
        /// A stream broke after output reached the caller and could not be resumed.
        public static let streamInterrupted = Code(rawValue: "stream_interrupted")
        /// The overall request deadline passed (504).
        public static let timeout = Code(rawValue: "timeout")
        /// The caller cancelled.
        public static let cancelled = Code(rawValue: "cancelled")
        /// The mesh is shut down (503).
        public static let shutDown = Code(rawValue: "shut_down")
        /// The shared budget store is unreachable and `storage.on_unavailable` is
        /// `fail_closed` (503).
        public static let storageUnavailable = Code(rawValue: "storage_unavailable")
        /// An upstream's answer passed to the caller as is (its own status).
        public static let upstream = Code(rawValue: "upstream_error")
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
        case .noActiveModel, .shutDown, .storageUnavailable: 503
        case .budgetExceeded: 402
        case .invalidRequest, .contentPolicy, .contextLengthExceeded: 400
        case .timeout: 504
        case .cancelled: 499
        default: 502
        }
    }

    public var description: String {
        var text = "\(code.rawValue): \(message)"
        if let hint { text += " (\(hint))" }
        return text
    }
}

import Foundation

/// How the router treats a failed attempt.
public enum ProviderErrorClass: String, Sendable, Codable, CaseIterable {
    /// 429: retried with backoff (honouring `Retry-After`), then rotated.
    case rateLimited = "rate_limited"
    /// 500, 502, 503, 504, 529: retried with backoff, then rotated.
    case serverError = "server_error"
    /// Connection refused or reset before an answer: retried, then rotated.
    case connection = "connection_error"
    /// The upstream stayed silent past a deadline: rotated, never retried on the same model.
    case timeout = "timeout"
    /// 401/403: the provider is deactivated and the request rotates.
    case authentication = "authentication_error"
    /// The prompt does not fit the model: rotates only to a model with a larger window.
    case contextLength = "context_length_exceeded"
    /// The content was refused by the provider's policy: returned to the caller.
    case contentPolicy = "content_policy_violation"
    /// The provider's quota or credit is exhausted: the model is deactivated and the request rotates.
    case quotaExhausted = "quota_exhausted"
    /// Another 4xx: the request itself is wrong; returned to the caller without rotating.
    case invalidRequest = "invalid_request"
    /// 404 for the model: the model is not served; rotates.
    case modelNotFound = "model_not_found"
    /// The stream broke after output began.
    case streamInterrupted = "stream_interrupted"
    /// The caller cancelled.
    case cancelled = "cancelled"
    /// Anything else.
    case unknown = "unknown"

    /// Whether the failure says something about the model's health (counts toward deactivation).
    public var countsAsModelFailure: Bool {
        switch self {
        case .rateLimited, .serverError, .connection, .timeout, .streamInterrupted, .unknown: true
        default: false
        }
    }

    /// The class an HTTP status alone suggests.
    public static func from(status: Int) -> ProviderErrorClass {
        switch status {
        case 401, 403: .authentication
        case 404: .modelNotFound
        case 408: .timeout
        case 413: .contextLength
        case 402: .quotaExhausted
        case 429: .rateLimited
        case 500...599: .serverError
        case 400...499: .invalidRequest
        default: .unknown
        }
    }
}

/// A failed provider call, classified.
///
/// Messages never contain credentials: connectors build them from the upstream's error
/// body, which does not echo keys, and from ids.
public struct ProviderError: Error, Sendable, CustomStringConvertible {
    public var errorClass: ProviderErrorClass
    /// The upstream HTTP status, if a response arrived.
    public var status: Int?
    public var message: String
    /// The upstream's `Retry-After`, if it sent one.
    public var retryAfter: Duration?
    public var rateLimit: RateLimitStatus?
    /// The vendor's own error type or code (e.g. `overloaded_error`).
    public var vendorCode: String?

    public init(
        _ errorClass: ProviderErrorClass, status: Int? = nil, message: String, retryAfter: Duration? = nil,
        rateLimit: RateLimitStatus? = nil, vendorCode: String? = nil
    ) {
        self.errorClass = errorClass
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
        self.rateLimit = rateLimit
        self.vendorCode = vendorCode
    }

    public var description: String {
        var text = errorClass.rawValue
        if let status { text += " (\(status))" }
        return text + ": " + message
    }

    /// Classifies any error thrown by a connector.
    public static func classify(_ error: any Error) -> ProviderError {
        if let e = error as? ProviderError { return e }
        if error is CancellationError { return ProviderError(.cancelled, message: "The request was cancelled") }
        return ProviderError(.unknown, message: String(describing: error))
    }
}

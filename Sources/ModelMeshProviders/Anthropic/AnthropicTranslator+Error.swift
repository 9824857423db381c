import Foundation
import ModelMesh

extension AnthropicTranslator {
    /// Classifies a failed Messages API response.
    ///
    /// Anthropic error bodies look like
    /// `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`.
    /// The `error.type` decides the class:
    ///
    /// | `error.type` | class |
    /// |---|---|
    /// | `overloaded_error` (529), `api_error` (500) | `.serverError` |
    /// | `rate_limit_error` (429) | `.rateLimited` |
    /// | `authentication_error` (401), `permission_error` (403) | `.authentication` |
    /// | `not_found_error` (404) | `.modelNotFound` |
    /// | `request_too_large` (413) | `.contextLength` |
    /// | `billing_error` (402) | `.quotaExhausted` |
    /// | `timeout_error` | `.timeout` |
    /// | `invalid_request_error` (400) | `.contextLength` when the message is about the prompt or context being too long, `.quotaExhausted` when it is about the credit balance, else `.invalidRequest` |
    ///
    /// A body that is not an Anthropic error (a proxy's HTML page, an empty body) is
    /// classified by its status alone. `retry-after` becomes ``ProviderError/retryAfter`` and
    /// the `anthropic-ratelimit-*` headers ``ProviderError/rateLimit``.
    ///
    /// - Parameters:
    ///   - status: The HTTP status.
    ///   - headers: The response headers (names case-insensitive).
    ///   - body: The response body.
    ///   - now: The current time, for a `retry-after` given as an HTTP date.
    public static func error(status: Int, headers: [(String, String)], body: Data, now: Date = Date())
        -> ProviderError
    {
        let fields = HeaderFields(headers)
        guard let json = WireJSON.parse(body), json["error"]?.objectValue != nil else {
            var error = ProviderError(
                ProviderErrorClass.from(status: status), status: status,
                message: "Anthropic returned HTTP \(status): \(WireJSON.snippet(body))")
            if status == 529 { error.errorClass = .serverError }
            error.retryAfter = fields.retryAfter(now: now)
            error.rateLimit = rateLimit(headers: fields)
            return error
        }
        var error = Self.error(status: status, errorObject: json["error"], headers: fields)
        error.retryAfter = fields.retryAfter(now: now)
        return error
    }

    /// Classifies a failed Messages API response whose headers are a dictionary.
    public static func error(status: Int, headers: [String: String], body: Data, now: Date = Date()) -> ProviderError {
        error(status: status, headers: headers.map { ($0.key, $0.value) }, body: body, now: now)
    }

    /// The error for an Anthropic `error` object (from an error body or an `error` stream event).
    static func error(status: Int?, errorObject: JSONValue?, headers: HeaderFields) -> ProviderError {
        let type = errorObject?["type"]?.stringValue
        let message = errorObject?["message"]?.stringValue ?? "no message"
        return ProviderError(
            errorClass(type: type, message: message, status: status), status: status,
            message: "Anthropic \(type ?? "error"): \(message)", rateLimit: rateLimit(headers: headers),
            vendorCode: type)
    }

    static func errorClass(type: String?, message: String, status: Int?) -> ProviderErrorClass {
        switch type {
        case "overloaded_error", "api_error": return .serverError
        case "rate_limit_error": return .rateLimited
        case "authentication_error", "permission_error": return .authentication
        case "not_found_error": return .modelNotFound
        case "request_too_large": return .contextLength
        case "billing_error": return .quotaExhausted
        case "timeout_error": return .timeout
        case "invalid_request_error":
            let text = message.lowercased()
            let contextPhrases = [
                "prompt is too long", "context limit", "context window", "context length", "too many tokens",
                "input is too long",
            ]
            if contextPhrases.contains(where: text.contains) { return .contextLength }
            if text.contains("credit balance") { return .quotaExhausted }
            return .invalidRequest
        default:
            guard let status else { return .unknown }
            return status == 529 ? .serverError : ProviderErrorClass.from(status: status)
        }
    }

    /// The rate-limit state reported by `anthropic-ratelimit-*` response headers, or `nil`
    /// when the response carries none.
    ///
    /// Requests come from `anthropic-ratelimit-requests-{limit,remaining,reset}`; tokens from
    /// `anthropic-ratelimit-tokens-*`, falling back to the `input-tokens-*` family when the
    /// combined one is absent. Resets are RFC 3339 times.
    public static func rateLimit(headers: [(String, String)]) -> RateLimitStatus? {
        rateLimit(headers: HeaderFields(headers))
    }

    /// The rate-limit state reported by `anthropic-ratelimit-*` response headers given as a dictionary.
    public static func rateLimit(headers: [String: String]) -> RateLimitStatus? {
        rateLimit(headers: HeaderFields(headers))
    }

    static func rateLimit(headers: HeaderFields) -> RateLimitStatus? {
        let prefix = "anthropic-ratelimit-"
        let tokenFamily =
            headers["\(prefix)tokens-limit"] != nil || headers["\(prefix)tokens-remaining"] != nil
            ? "tokens" : "input-tokens"
        let status = RateLimitStatus(
            limitRequests: headers.int("\(prefix)requests-limit"),
            remainingRequests: headers.int("\(prefix)requests-remaining"),
            limitTokens: headers.int("\(prefix)\(tokenFamily)-limit"),
            remainingTokens: headers.int("\(prefix)\(tokenFamily)-remaining"),
            resetRequestsAt: headers.rfc3339Date("\(prefix)requests-reset"),
            resetTokensAt: headers.rfc3339Date("\(prefix)\(tokenFamily)-reset"))
        return status == RateLimitStatus() ? nil : status
    }
}

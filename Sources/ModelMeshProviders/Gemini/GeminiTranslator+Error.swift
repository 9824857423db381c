import Foundation
import ModelMesh

extension GeminiTranslator {
    /// Classifies a failed Gemini API response.
    ///
    /// Google error bodies look like
    /// `{"error": {"code": 429, "message": "...", "status": "RESOURCE_EXHAUSTED", "details": [...]}}`
    /// (the streaming endpoint may wrap it in an array). The `status` decides the class:
    ///
    /// | `error.status` | class |
    /// |---|---|
    /// | `RESOURCE_EXHAUSTED` | `.quotaExhausted` for a daily quota or spent credit, else `.rateLimited` (see below) |
    /// | `UNAUTHENTICATED`, `PERMISSION_DENIED` | `.authentication` |
    /// | `INVALID_ARGUMENT` | `.authentication` for an invalid or expired API key, `.contextLength` when the input exceeds the token limit, else `.invalidRequest` |
    /// | `FAILED_PRECONDITION` | `.quotaExhausted` when billing must be enabled, else `.invalidRequest` |
    /// | `NOT_FOUND` | `.modelNotFound` |
    /// | `UNAVAILABLE`, `INTERNAL` | `.serverError` |
    /// | `DEADLINE_EXCEEDED` | `.timeout` |
    ///
    /// `RESOURCE_EXHAUSTED` is read from its structured details first: a `QuotaFailure`
    /// violation of a per-day quota means the quota is spent (`.quotaExhausted`); a per-minute
    /// violation or a `RetryInfo` means a short wait helps (`.rateLimited`). Only without
    /// such details does the message decide (`quota`, `billing` or `credit` →
    /// `.quotaExhausted`); Google's per-minute message also mentions "plan and billing details".
    ///
    /// The `Retry-After` header, else the `RetryInfo` detail's `retryDelay` (`"30s"`),
    /// becomes ``ProviderError/retryAfter``. A body that is not a Google error is classified
    /// by its status alone.
    ///
    /// - Parameters:
    ///   - status: The HTTP status.
    ///   - headers: The response headers (names case-insensitive).
    ///   - body: The response body.
    ///   - now: The current time, for a `Retry-After` given as an HTTP date.
    public static func error(status: Int, headers: [(String, String)], body: Data, now: Date = Date()) -> ProviderError
    {
        let fields = HeaderFields(headers)
        var json = WireJSON.parse(body)
        if case .array(let elements)? = json { json = elements.first }
        guard let errorObject = json?["error"], errorObject.objectValue != nil else {
            var error = ProviderError(
                ProviderErrorClass.from(status: status), status: status,
                message: "Gemini returned HTTP \(status): \(WireJSON.snippet(body))")
            error.retryAfter = fields.retryAfter(now: now)
            return error
        }
        return Self.error(status: status, errorObject: errorObject, headers: fields, now: now)
    }

    /// Classifies a failed Gemini API response whose headers are a dictionary.
    public static func error(status: Int, headers: [String: String], body: Data, now: Date = Date()) -> ProviderError {
        error(status: status, headers: headers.map { ($0.key, $0.value) }, body: body, now: now)
    }

    /// The error for a Google `error` object (from an error body or a stream payload).
    static func error(status: Int?, errorObject: JSONValue, headers: HeaderFields, now: Date) -> ProviderError {
        let code = errorObject["status"]?.stringValue
        let message = errorObject["message"]?.stringValue ?? "no message"
        let details = errorObject["details"]?.arrayValue ?? []
        let retryDelay = details.lazy.compactMap { detail -> Duration? in
            guard detail["@type"]?.stringValue?.hasSuffix("google.rpc.RetryInfo") == true else { return nil }
            return detail["retryDelay"]?.stringValue.flatMap(parseProtobufDuration)
        }.first
        return ProviderError(
            errorClass(
                status: code, httpStatus: status ?? errorObject["code"]?.intValue, message: message, details: details),
            status: status ?? errorObject["code"]?.intValue,
            message: "Gemini \(code ?? "error"): \(message)",
            retryAfter: headers.retryAfter(now: now) ?? retryDelay,
            vendorCode: code)
    }

    static func errorClass(status: String?, httpStatus: Int?, message: String, details: [JSONValue])
        -> ProviderErrorClass
    {
        let text = message.lowercased()
        let reasons = details.compactMap { $0["reason"]?.stringValue }
        switch status {
        case "RESOURCE_EXHAUSTED":
            return resourceExhaustedClass(message: text, details: details)
        case "UNAUTHENTICATED", "PERMISSION_DENIED":
            return .authentication
        case "INVALID_ARGUMENT":
            if reasons.contains(where: { $0.hasPrefix("API_KEY_") }) || text.contains("api key") {
                return .authentication
            }
            let contextPhrases = [
                "exceeds the maximum number of tokens", "input token count", "token limit", "too many tokens",
                "context window", "context length",
            ]
            if contextPhrases.contains(where: text.contains) { return .contextLength }
            return .invalidRequest
        case "FAILED_PRECONDITION":
            return text.contains("billing") ? .quotaExhausted : .invalidRequest
        case "NOT_FOUND":
            return .modelNotFound
        case "UNAVAILABLE", "INTERNAL":
            return .serverError
        case "DEADLINE_EXCEEDED":
            return .timeout
        default:
            guard let httpStatus else { return .unknown }
            return ProviderErrorClass.from(status: httpStatus)
        }
    }

    static func resourceExhaustedClass(message: String, details: [JSONValue]) -> ProviderErrorClass {
        var quotaIDs: [String] = []
        for detail in details {
            for violation in detail["violations"]?.arrayValue ?? [] {
                quotaIDs += [violation["quotaId"], violation["quotaMetric"]].compactMap { $0?.stringValue }
            }
            if let limit = detail["metadata"]?["quota_limit"]?.stringValue { quotaIDs.append(limit) }
        }
        if quotaIDs.contains(where: { $0.lowercased().contains("perday") }) { return .quotaExhausted }
        let hasRetryInfo = details.contains { $0["@type"]?.stringValue?.hasSuffix("google.rpc.RetryInfo") == true }
        if !quotaIDs.isEmpty || hasRetryInfo { return .rateLimited }
        if ["quota", "billing", "credit"].contains(where: message.contains), !message.contains("e.g. check quota") {
            return .quotaExhausted
        }
        return .rateLimited
    }

    /// Parses a protobuf JSON duration such as `"30s"` or `"1.500s"`.
    static func parseProtobufDuration(_ text: String) -> Duration? {
        guard text.hasSuffix("s"), let seconds = Double(text.dropLast()), seconds.isFinite, seconds >= 0 else {
            return nil
        }
        return .seconds(seconds)
    }
}

import Foundation
import ModelMesh

/// Classifies OpenAI-shaped error answers by HTTP status and body.
///
/// The body is `{"error": {"message", "type", "code", "param"}}`; family members vary
/// (`{"error": "text"}` from Ollama, `{"message": ...}` or `{"detail": ...}` elsewhere), and
/// the code decides over the status: a 429 with `insufficient_quota` is an exhausted quota,
/// not a rate limit, and a 400 with `context_length_exceeded` is a context overflow.
package enum OpenAIErrorClassifier {
    /// The fields of an error body.
    package struct Details: Sendable, Hashable {
        package var message: String?
        package var type: String?
        package var code: String?
        package var param: String?
    }

    /// The classified error for a non-2xx response.
    package static func error(for response: UpstreamResponse) -> ProviderError {
        let details = parse(response.bodyData)
        let errorClass = classify(status: response.status, details: details)
        let message = details?.message.flatMap { $0.isEmpty ? nil : $0 } ?? fallbackMessage(response)
        return response.error(errorClass, message: message, vendorCode: details?.code ?? details?.type)
    }

    /// The classified error for an in-band error object (a stream event or a 200 body).
    package static func inBandError(_ error: JSONValue, status: Int? = nil) -> ProviderError {
        let details = details(of: error)
        var errorClass = classify(status: status, details: details)
        if status == nil, errorClass == .unknown {
            // OpenRouter and others put an HTTP status in `code`.
            if let code = error["code"]?.intValue, (400...599).contains(code) {
                errorClass = .from(status: code)
            } else if let type = details.type?.lowercased(), type.contains("rate_limit") {
                errorClass = .rateLimited
            } else {
                // The upstream gave up in the middle of its own answer.
                errorClass = .serverError
            }
        }
        return ProviderError(
            errorClass, status: status, message: details.message ?? "The upstream sent an error event",
            vendorCode: details.code ?? details.type)
    }

    /// The class from body codes first, then the status.
    package static func classify(status: Int?, details: Details?) -> ProviderErrorClass {
        if let details {
            let codes = [details.code, details.type].compactMap { $0?.lowercased() }
            let message = details.message?.lowercased() ?? ""
            if codes.contains(where: { $0.contains("context_length") })
                || message.contains("maximum context length") || message.contains("context length")
                || message.contains("context_length_exceeded") || message.contains("context window")
            {
                return .contextLength
            }
            if codes.contains(where: { $0 == "content_policy_violation" || $0 == "content_filter" }) {
                return .contentPolicy
            }
            if codes.contains("insufficient_quota") || codes.contains("billing_hard_limit_reached") {
                return .quotaExhausted
            }
            if codes.contains("model_not_found") {
                return .modelNotFound
            }
            if codes.contains("invalid_api_key") {
                return .authentication
            }
        }
        guard let status else { return .unknown }
        return .from(status: status)
    }

    /// Reads the error fields of a body, whatever shape of the family it has.
    package static func parse(_ body: Data) -> Details? {
        guard !body.isEmpty, let value = try? JSONDecoder().decode(JSONValue.self, from: body) else { return nil }
        if let error = value["error"] {
            return details(of: error)
        }
        if let message = value["message"]?.stringValue ?? value["detail"]?.stringValue {
            return Details(message: message, type: value["type"]?.stringValue, code: codeText(value["code"]))
        }
        return nil
    }

    private static func details(of error: JSONValue) -> Details {
        if let text = error.stringValue { return Details(message: text) }
        return Details(
            message: error["message"]?.stringValue, type: error["type"]?.stringValue,
            code: codeText(error["code"]), param: error["param"]?.stringValue)
    }

    private static func codeText(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let s): s
        case .int(let i): String(i)
        default: nil
        }
    }

    private static func fallbackMessage(_ response: UpstreamResponse) -> String {
        let text = response.bodyText.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "HTTP \(response.status)" : "HTTP \(response.status): \(text.prefix(500))"
    }
}

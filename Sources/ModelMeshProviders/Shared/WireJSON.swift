import Foundation
import ModelMesh

/// JSON encoding and decoding shared by the vendor translators.
///
/// Vendor bodies are handled as ``JSONValue`` trees: requests are built as trees and
/// encoded with sorted keys (stable bytes for logs and tests); responses are decoded into
/// trees and read field by field, so an unexpected shape becomes a ``ProviderError`` that
/// names the missing or mistyped field instead of a decoding crash.
///
/// Shared by the Anthropic and Gemini translators; it lives in this folder only because the
/// providers target has no shared wire folder yet.
enum WireJSON {
    /// Encodes a JSON tree to bytes with sorted keys and unescaped slashes.
    static func encode(_ value: JSONValue) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    /// Encodes a JSON tree to text (used for tool-call arguments).
    static func text(_ value: JSONValue) -> String {
        guard let data = try? encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Decodes bytes to a JSON tree, or `nil` when they are not JSON.
    static func parse(_ data: Data) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// Decodes a vendor body, throwing a ``ProviderError`` that says what was malformed.
    static func decodeBody(_ data: Data, vendor: String, what: String) throws -> JSONValue {
        guard let value = parse(data) else {
            throw malformed(vendor: vendor, "\(what) is not valid JSON: \(snippet(data))")
        }
        return value
    }

    /// The error for a vendor payload that does not have the documented shape.
    ///
    /// Classed `.unknown`: the upstream answered, but with something we cannot read, so the
    /// attempt counts against the model and the router may rotate.
    static func malformed(vendor: String, _ detail: String) -> ProviderError {
        ProviderError(.unknown, message: "Malformed \(vendor) response: \(detail)")
    }

    /// The start of a body, for error messages.
    static func snippet(_ data: Data, limit: Int = 200) -> String {
        let text = String(decoding: data.prefix(limit), as: UTF8.self)
            .replacingOccurrences(of: "\n", with: " ")
        if text.isEmpty { return "(empty body)" }
        return data.count > limit ? text + "…" : text
    }

    /// Parses the `arguments` text of an OpenAI tool call into the object vendors expect.
    ///
    /// An absent or blank text is an empty object (tools without parameters); anything
    /// that is not a JSON object is a caller error; `path` (e.g. `messages[3]`) starts its message.
    static func toolArguments(_ text: String?, toolName: String, callID: String, path: String) throws -> JSONValue {
        let trimmed = (text ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return .object([:]) }
        guard let value = parse(Data(trimmed.utf8)) else {
            throw ProviderError(
                .invalidRequest,
                message:
                    "\(path): tool call '\(callID)' (\(toolName)) has arguments that are not valid JSON: \(trimmed.prefix(120))"
            )
        }
        guard case .object = value else {
            throw ProviderError(
                .invalidRequest,
                message: "\(path): tool call '\(callID)' (\(toolName)) has arguments that are not a JSON object")
        }
        return value
    }
}

import Foundation
import ModelMesh

/// Turns the server-sent events of `streamGenerateContent?alt=sse` into OpenAI chunks.
///
/// Each SSE `data:` payload is a complete `GenerateContentResponse` holding the next piece of
/// the answer. A value-type state machine: feed it each payload in order and send on the
/// chunks it returns; it never touches the network.
///
/// - The first output is preceded by a chunk with `role: assistant`.
/// - Text parts become content deltas; each `functionCall` part becomes one `tool_calls`
///   delta carrying index, id, name and the complete arguments (Gemini does not split them).
/// - A `finishReason` becomes a finish chunk, followed by a usage chunk (`choices: []`)
///   from the latest `usageMetadata`.
///
/// Gemini streams have no `[DONE]` marker: ``sawFinishReason`` tells a complete stream from
/// one cut short.
///
/// ```swift
/// var translator = GeminiStreamTranslator(model: "gemini-2.0-flash")
/// for event in sseEvents { for chunk in try translator.consume(data: event.data) { yield(chunk) } }
/// guard translator.sawFinishReason else { throw ProviderError(.streamInterrupted, message: "...") }
/// ```
public struct GeminiStreamTranslator: Sendable {
    /// The model name reported in the chunks.
    public let model: String
    /// The `created` timestamp of every chunk.
    public let created: Int
    /// The `responseId` Gemini reported (empty until then).
    public private(set) var id: String = ""
    /// Whether a candidate `finishReason` was seen: only then is the answer complete.
    public private(set) var sawFinishReason = false
    /// The translated finish reason, once seen.
    public private(set) var finishReason: String?
    /// The latest `usageMetadata`, translated.
    public private(set) var usage: Usage?

    private var sentRole = false
    private var sentOutput = false
    private var sentUsage = false
    private var callNumber = 0

    /// Creates a translator for one stream.
    ///
    /// - Parameters:
    ///   - model: The model name reported in the chunks.
    ///   - created: The `created` timestamp of the chunks.
    public init(model: String, created: Date = Date()) {
        self.model = model
        self.created = Int(created.timeIntervalSince1970)
    }

    /// Consumes one SSE `data:` payload.
    ///
    /// - Returns: The chunks to send, possibly none.
    /// - Throws: ``ProviderError`` of class `.contentPolicy` when the prompt is blocked or the
    ///   answer is stopped by a safety filter before any output; the classified error for an
    ///   embedded `error` object; `.unknown` when the payload is not JSON.
    public mutating func consume(data: String) throws -> [ChatCompletionChunk] {
        let trimmed = data.trimmingASCIIWhitespace()
        if trimmed.isEmpty || trimmed == "[DONE]" { return [] }
        guard let json = WireJSON.parse(Data(trimmed.utf8)) else {
            throw WireJSON.malformed(vendor: "Gemini", "stream payload is not JSON: \(trimmed.prefix(120))")
        }
        // Without `alt=sse` Gemini streams one JSON array; accept its elements too.
        if case .array(let responses) = json {
            var chunks: [ChatCompletionChunk] = []
            for response in responses { chunks += try consume(response: response) }
            return chunks
        }
        return try consume(response: json)
    }

    private mutating func consume(response json: JSONValue) throws -> [ChatCompletionChunk] {
        guard json.objectValue != nil else {
            throw WireJSON.malformed(vendor: "Gemini", "stream payload is not a JSON object")
        }
        if let error = json["error"], error.objectValue != nil {
            throw GeminiTranslator.error(
                status: error["code"]?.intValue, errorObject: error, headers: HeaderFields([]), now: Date())
        }
        if let responseID = json["responseId"]?.stringValue { id = responseID }
        if let metadata = GeminiTranslator.usage(json["usageMetadata"]) { usage = metadata }

        guard let candidate = json["candidates"]?.arrayValue?.first else {
            if json["promptFeedback"]?["blockReason"] != nil { throw GeminiTranslator.emptyResponseError(json) }
            return usageChunkIfDue()
        }

        var chunks: [ChatCompletionChunk] = []
        let extracted = try GeminiTranslator.extract(candidate, callNumber: &callNumber, indexed: true)
        if let text = extracted.text, !text.isEmpty {
            chunks += roleChunkIfNeeded()
            chunks.append(chunk(.init(content: text)))
            sentOutput = true
        }
        if !extracted.calls.isEmpty {
            chunks += roleChunkIfNeeded()
            for call in extracted.calls { chunks.append(chunk(.init(toolCalls: [call]))) }
            sentOutput = true
        }

        if let reason = candidate["finishReason"]?.stringValue, !sawFinishReason {
            let finish = GeminiTranslator.finishReason(reason, hasToolCalls: callNumber > 0)
            if finish == "content_filter", !sentOutput {
                throw ProviderError(
                    .contentPolicy,
                    message: "Gemini stopped the answer with finish reason \(reason) before any content",
                    vendorCode: reason)
            }
            sawFinishReason = true
            finishReason = finish
            chunks += roleChunkIfNeeded()
            chunks.append(chunk(.init(), finishReason: finish))
        }
        return chunks + usageChunkIfDue()
    }

    /// The usage chunk, once the answer finished and usage is known.
    private mutating func usageChunkIfDue() -> [ChatCompletionChunk] {
        guard sawFinishReason, !sentUsage, let usage else { return [] }
        sentUsage = true
        return [ChatCompletionChunk(id: id, created: created, model: model, choices: [], usage: usage)]
    }

    private mutating func roleChunkIfNeeded() -> [ChatCompletionChunk] {
        guard !sentRole else { return [] }
        sentRole = true
        return [chunk(.init(role: "assistant", content: ""))]
    }

    private func chunk(_ delta: ChatCompletionChunk.Delta, finishReason: String? = nil) -> ChatCompletionChunk {
        ChatCompletionChunk(
            id: id, created: created, model: model, choices: [.init(index: 0, delta: delta, finishReason: finishReason)]
        )
    }
}

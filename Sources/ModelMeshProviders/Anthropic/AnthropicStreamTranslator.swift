import Foundation
import ModelMesh

/// Turns the server-sent events of a streamed Messages API response into OpenAI chunks.
///
/// A value-type state machine: feed it each SSE event in order and send on the chunks it
/// returns. It never touches the network; the connector owns the byte stream and the SSE
/// parsing.
///
/// | Anthropic event | chunks |
/// |---|---|
/// | `message_start` | one chunk with `role: assistant` (id and input usage recorded) |
/// | `content_block_start` (`tool_use`) | a `tool_calls` delta with index, id, name, empty arguments |
/// | `content_block_delta` `text_delta` | a content delta |
/// | `content_block_delta` `input_json_delta` | a `tool_calls` delta carrying an arguments fragment |
/// | `message_delta` | a chunk with `finish_reason` (output usage recorded) |
/// | `message_stop` | a usage chunk (`choices: []`); ``isComplete`` becomes `true` |
/// | `ping`, `content_block_stop`, unknown events | nothing |
/// | `error` | throws the classified ``ProviderError`` |
///
/// Tool-call indices count tool calls (0, 1, ...), not Anthropic content blocks.
///
/// ```swift
/// var translator = AnthropicStreamTranslator(model: "claude-sonnet-4-20250514")
/// for event in sseEvents {
///     for chunk in try translator.consume(event: event.name, data: event.data) { yield(chunk) }
/// }
/// if !translator.isComplete {
///     // The body ended without message_stop: complete only after a stop reason.
///     guard let last = translator.endOfBody() else { throw ProviderError(.streamInterrupted, message: "...") }
///     for chunk in last { yield(chunk) }
/// }
/// ```
public struct AnthropicStreamTranslator: Sendable {
    /// The model name reported in the chunks.
    public let model: String
    /// The `created` timestamp of every chunk.
    public let created: Int
    /// The message id from `message_start` (empty until then).
    public private(set) var id: String = ""
    /// Whether the answer is complete: `message_stop` was seen, or ``endOfBody()`` accepted a
    /// body that ended after the stop reason.
    public private(set) var isComplete = false
    /// The finish reason from `message_delta`, once seen.
    public private(set) var finishReason: String?

    private var inputTokens = 0
    private var outputTokens = 0
    private var cacheReadTokens: Int?
    private var cacheWriteTokens: Int?
    private var sentRole = false
    /// Anthropic content-block index → OpenAI tool-call index.
    private var toolIndexByBlock: [Int: Int] = [:]

    /// Creates a translator for one stream.
    ///
    /// - Parameters:
    ///   - model: The model name reported in the chunks.
    ///   - created: The `created` timestamp of the chunks.
    public init(model: String, created: Date = Date()) {
        self.model = model
        self.created = Int(created.timeIntervalSince1970)
    }

    /// The usage recorded so far (input from `message_start`, output from `message_delta`).
    public var usage: Usage {
        Usage(
            promptTokens: Usage.count(inputTokens) + Usage.count(cacheReadTokens ?? 0)
                + Usage.count(cacheWriteTokens ?? 0),
            completionTokens: outputTokens, cachedTokens: cacheReadTokens, cacheWriteTokens: cacheWriteTokens)
    }

    /// Consumes one server-sent event.
    ///
    /// - Parameters:
    ///   - event: The SSE `event:` name; when empty, the `type` member of the data is used.
    ///   - data: The SSE `data:` payload (a JSON object).
    /// - Returns: The chunks to send, possibly none.
    /// - Throws: The classified ``ProviderError`` for an `error` event; a ``ProviderError`` of
    ///   class `.unknown` when the data is not the JSON the event requires.
    public mutating func consume(event: String, data: String) throws -> [ChatCompletionChunk] {
        let trimmed = data.trimmingASCIIWhitespace()
        if trimmed.isEmpty { return [] }
        guard let json = WireJSON.parse(Data(trimmed.utf8)), json.objectValue != nil else {
            throw WireJSON.malformed(vendor: "Anthropic", "stream event '\(event)' data is not a JSON object")
        }
        let type = event.isEmpty ? (json["type"]?.stringValue ?? "") : event

        switch type {
        case "message_start":
            let message = json["message"]
            if let id = message?["id"]?.stringValue { self.id = id }
            record(usage: message?["usage"])
            return roleChunkIfNeeded()

        case "content_block_start":
            guard let block = json["content_block"], let index = json["index"]?.intValue else {
                throw WireJSON.malformed(vendor: "Anthropic", "content_block_start lacks 'index' or 'content_block'")
            }
            switch block["type"]?.stringValue {
            case "tool_use":
                guard let callID = block["id"]?.stringValue, let name = block["name"]?.stringValue else {
                    throw WireJSON.malformed(vendor: "Anthropic", "tool_use block start lacks 'id' or 'name'")
                }
                let toolIndex = toolIndexByBlock.count
                toolIndexByBlock[index] = toolIndex
                let call = ToolCall(
                    index: toolIndex, id: callID, type: "function", function: .init(name: name, arguments: ""))
                return roleChunkIfNeeded() + [chunk(.init(toolCalls: [call]))]
            case "text":
                let text = block["text"]?.stringValue ?? ""
                return roleChunkIfNeeded() + (text.isEmpty ? [] : [chunk(.init(content: text))])
            default:
                return []
            }

        case "content_block_delta":
            guard let delta = json["delta"], let index = json["index"]?.intValue else {
                throw WireJSON.malformed(vendor: "Anthropic", "content_block_delta lacks 'index' or 'delta'")
            }
            switch delta["type"]?.stringValue {
            case "text_delta":
                let text = delta["text"]?.stringValue ?? ""
                return text.isEmpty ? [] : roleChunkIfNeeded() + [chunk(.init(content: text))]
            case "input_json_delta":
                let fragment = delta["partial_json"]?.stringValue ?? ""
                guard !fragment.isEmpty else { return [] }
                guard let toolIndex = toolIndexByBlock[index] else {
                    throw WireJSON.malformed(
                        vendor: "Anthropic",
                        "input_json_delta for content block \(index), which is not a tool_use block")
                }
                let call = ToolCall(
                    index: toolIndex, id: nil, type: nil, function: .init(name: nil, arguments: fragment))
                return [chunk(.init(toolCalls: [call]))]
            default:
                // thinking_delta, signature_delta, citations_delta: not part of the OpenAI shape.
                return []
            }

        case "message_delta":
            record(usage: json["usage"])
            guard let reason = AnthropicTranslator.finishReason(json["delta"]?["stop_reason"]?.stringValue) else {
                return []
            }
            finishReason = reason
            return roleChunkIfNeeded() + [chunk(.init(), finishReason: reason)]

        case "message_stop":
            isComplete = true
            return [ChatCompletionChunk(id: id, created: created, model: model, choices: [], usage: usage)]

        case "error":
            throw AnthropicTranslator.error(status: nil, errorObject: json["error"], headers: HeaderFields([]))

        default:
            // ping, content_block_stop and event types added after this was written.
            return []
        }
    }

    /// The chunks for a body that ended without `message_stop`, or `nil` when the answer is
    /// incomplete.
    ///
    /// `message_delta` carries the final `stop_reason` and the cumulative usage, and Anthropic
    /// sends it only after the last content block: a body that ends properly after it lost
    /// nothing but the terminal event, so the answer is complete and its usage chunk is
    /// sent as `message_stop` would have. Without a stop reason the answer was cut short.
    public mutating func endOfBody() -> [ChatCompletionChunk]? {
        guard !isComplete else { return [] }
        guard finishReason != nil else { return nil }
        isComplete = true
        return [ChatCompletionChunk(id: id, created: created, model: model, choices: [], usage: usage)]
    }

    private mutating func record(usage: JSONValue?) {
        guard let usage else { return }
        // message_delta usage is cumulative; later values replace earlier ones.
        if let value = usage["input_tokens"]?.intValue { inputTokens = value }
        if let value = usage["output_tokens"]?.intValue { outputTokens = value }
        if let value = usage["cache_read_input_tokens"]?.intValue { cacheReadTokens = value }
        if let value = usage["cache_creation_input_tokens"]?.intValue { cacheWriteTokens = value }
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

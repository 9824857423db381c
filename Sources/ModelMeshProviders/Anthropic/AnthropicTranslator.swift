import Foundation
import ModelMesh

/// Translates OpenAI-shaped chat completions to the Anthropic Messages API and back.
///
/// Pure wire-format work, no networking: the connector sends ``request(_:model:stream:defaultMaxTokens:)``
/// as the body of `POST {base}/v1/messages` (headers `x-api-key`, `anthropic-version:`
/// ``apiVersion``, `content-type: application/json`), hands a successful body to
/// ``response(_:requestedModel:)``, a streamed body's events to an ``AnthropicStreamTranslator``,
/// and a failed one to ``error(status:headers:body:now:)``.
///
/// ```swift
/// let translator = AnthropicTranslator()
/// let body = try translator.request(request, model: "claude-sonnet-4-20250514", stream: false)
/// // ... POST body, receive `data` ...
/// let completion = try translator.response(data, requestedModel: "claude-sonnet-4-20250514")
/// ```
public struct AnthropicTranslator: Sendable {
    /// The `anthropic-version` header value this translation is written against.
    public static let apiVersion = "2023-06-01"
    /// The request path of the Messages API.
    public static let messagesPath = "/v1/messages"
    /// `max_tokens` when neither the request nor the model configuration sets one
    /// (Anthropic requires the field).
    public static let defaultMaxTokens = 4096

    private let now: @Sendable () -> Date

    /// Creates a translator.
    ///
    /// - Parameter now: The clock used for the `created` timestamp of translated responses.
    public init(now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
    }

    // MARK: - Request

    /// The JSON body for `POST /v1/messages`.
    ///
    /// - `system` and `developer` messages become the top-level `system` text, joined by a
    ///   blank line.
    /// - Text and image parts become `text` / `image` blocks (`https:` URLs as `url` sources,
    ///   `data:` URLs as `base64` sources).
    /// - Assistant `tool_calls` become `tool_use` blocks; `tool` messages become `tool_result`
    ///   blocks in a user turn. Consecutive messages of one role are merged into one turn,
    ///   because Anthropic requires user and assistant turns to alternate.
    /// - `tools`, `tool_choice` (`required` → `any`, a named function → `tool`),
    ///   `parallel_tool_calls: false` (→ `disable_parallel_tool_use`), `stop` →
    ///   `stop_sequences`, `temperature` (capped at Anthropic's maximum of 1), `top_p`,
    ///   `top_k`, `user` → `metadata.user_id`.
    /// - `response_format` has no Messages API equivalent and is not sent; other
    ///   OpenAI-only members are dropped because the Messages API rejects unknown fields.
    ///
    /// - Parameters:
    ///   - request: The OpenAI-shaped request.
    ///   - wireName: The Anthropic model name, e.g. `claude-sonnet-4-20250514`.
    ///   - stream: Whether to ask for server-sent events.
    ///   - defaultMaxTokens: `max_tokens` when the request sets none (the model's maximum
    ///     output, else ``defaultMaxTokens``).
    /// - Throws: ``ProviderError`` of class `.invalidRequest` when the request cannot be
    ///   expressed (tool-call arguments that are not a JSON object, a tool message without
    ///   `tool_call_id`, an unsupported content part, a bad `tool_choice`).
    public func request(
        _ request: ChatCompletionRequest, model wireName: String, stream: Bool,
        defaultMaxTokens: Int = AnthropicTranslator.defaultMaxTokens
    ) throws -> Data {
        try WireJSON.encode(requestBody(request, model: wireName, stream: stream, defaultMaxTokens: defaultMaxTokens))
    }

    /// The JSON tree of ``request(_:model:stream:defaultMaxTokens:)``.
    public func requestBody(
        _ request: ChatCompletionRequest, model wireName: String, stream: Bool,
        defaultMaxTokens: Int = AnthropicTranslator.defaultMaxTokens
    ) throws -> JSONValue {
        var body: [String: JSONValue] = [
            "model": .string(wireName),
            "max_tokens": .int(request.requestedMaxTokens ?? defaultMaxTokens),
        ]
        var systemTexts: [String] = []
        var conversation = ConversationTurns()
        func append(_ role: String, _ blocks: [JSONValue]) { conversation.append(role, blocks) }

        for (position, message) in request.messages.enumerated() {
            switch message.role {
            case "system", "developer":
                let text = message.content?.text ?? ""
                if !text.isEmpty { systemTexts.append(text) }
            case "user":
                append("user", try Self.contentBlocks(message.content, position: position))
            case "assistant":
                var blocks = try Self.contentBlocks(message.content, position: position)
                for call in message.toolCalls ?? [] {
                    blocks.append(try Self.toolUseBlock(call, position: position))
                }
                append("assistant", blocks)
            case "tool":
                append("user", [try Self.toolResultBlock(message, position: position)])
            default:
                throw ProviderError(
                    .invalidRequest,
                    message: "messages[\(position)]: role '\(message.role)' is not supported by Anthropic")
            }
        }

        body["messages"] = .array(
            conversation.turns.map { turn in
                // A lone text block is sent as a plain string, the form most clients use.
                if turn.items.count == 1, turn.items[0]["type"] == "text", let text = turn.items[0]["text"] {
                    return .object(["role": .string(turn.role), "content": text])
                }
                return .object(["role": .string(turn.role), "content": .array(turn.items)])
            })
        if !systemTexts.isEmpty { body["system"] = .string(systemTexts.joined(separator: "\n\n")) }

        if let tools = request.tools, !tools.isEmpty {
            body["tools"] = .array(
                tools.map { tool in
                    var entry: [String: JSONValue] = [
                        "name": .string(tool.function.name),
                        "input_schema": tool.function.parameters ?? ["type": "object", "properties": [:]],
                    ]
                    if let description = tool.function.description { entry["description"] = .string(description) }
                    return .object(entry)
                })
            let parallel = request.extra["parallel_tool_calls"]?.boolValue
            if var choice = try Self.toolChoice(request.toolChoice) {
                if parallel == false, choice["type"] != "none" { choice["disable_parallel_tool_use"] = true }
                body["tool_choice"] = .object(choice)
            } else if parallel == false {
                body["tool_choice"] = ["type": "auto", "disable_parallel_tool_use": true]
            }
        }

        if let stop = request.stop?.values, !stop.isEmpty { body["stop_sequences"] = .array(stop.map { .string($0) }) }
        // OpenAI allows temperatures up to 2; Anthropic rejects anything above 1.
        if let temperature = request.temperature { body["temperature"] = .double(min(temperature, 1)) }
        if let topP = request.topP { body["top_p"] = .double(topP) }
        if let topK = request.extra["top_k"]?.intValue { body["top_k"] = .int(topK) }
        if let user = request.user, !user.isEmpty { body["metadata"] = ["user_id": .string(user)] }
        if stream { body["stream"] = true }
        return .object(body)
    }

    /// Text and image blocks for message content.
    static func contentBlocks(_ content: MessageContent?, position: Int) throws -> [JSONValue] {
        switch content {
        case nil:
            return []
        case .text(let text):
            return text.isEmpty ? [] : [["type": "text", "text": .string(text)]]
        case .parts(let parts):
            var blocks: [JSONValue] = []
            for (index, part) in parts.enumerated() {
                switch part {
                case .text(let text):
                    // Anthropic rejects empty text blocks.
                    if !text.isEmpty { blocks.append(["type": "text", "text": .string(text)]) }
                case .imageURL(let url, _):
                    blocks.append(try imageBlock(url, path: "messages[\(position)].content[\(index)]"))
                case .other(let value):
                    let type = value["type"]?.stringValue ?? "unknown"
                    throw ProviderError(
                        .invalidRequest,
                        message:
                            "messages[\(position)].content[\(index)]: content part type '\(type)' is not supported by Anthropic"
                    )
                }
            }
            return blocks
        }
    }

    static func imageBlock(_ url: String, path: String) throws -> JSONValue {
        let source: JSONValue
        do {
            if let data = try DataURL.parse(url) {
                source = ["type": "base64", "media_type": .string(data.mediaType), "data": .string(data.base64)]
            } else if url.lowercased().hasPrefix("https://") || url.lowercased().hasPrefix("http://") {
                source = ["type": "url", "url": .string(url)]
            } else {
                throw ProviderError(.invalidRequest, message: "image URL must be https:// or a data: URL")
            }
        } catch let error as ProviderError {
            throw ProviderError(.invalidRequest, message: "\(path): \(error.message)")
        }
        return ["type": "image", "source": source]
    }

    static func toolUseBlock(_ call: ToolCall, position: Int) throws -> JSONValue {
        guard let id = call.id, !id.isEmpty else {
            throw ProviderError(.invalidRequest, message: "messages[\(position)]: a tool call has no id")
        }
        guard let name = call.function.name, !name.isEmpty else {
            throw ProviderError(
                .invalidRequest, message: "messages[\(position)]: tool call '\(id)' has no function name")
        }
        let input = try WireJSON.toolArguments(
            call.function.arguments, toolName: name, callID: id, path: "messages[\(position)]")
        return ["type": "tool_use", "id": .string(id), "name": .string(name), "input": input]
    }

    static func toolResultBlock(_ message: ChatMessage, position: Int) throws -> JSONValue {
        guard let id = message.toolCallID, !id.isEmpty else {
            throw ProviderError(.invalidRequest, message: "messages[\(position)]: a tool message has no tool_call_id")
        }
        var block: [String: JSONValue] = ["type": "tool_result", "tool_use_id": .string(id)]
        switch message.content {
        case nil:
            break
        case .text(let text):
            block["content"] = .string(text)
        case .parts:
            // Tool results may carry text and images, as blocks.
            block["content"] = .array(try contentBlocks(message.content, position: position))
        }
        return .object(block)
    }

    /// The Anthropic `tool_choice` object for an OpenAI `tool_choice`, or `nil` when unset.
    static func toolChoice(_ choice: JSONValue?) throws -> [String: JSONValue]? {
        guard let choice, choice != .null else { return nil }
        switch choice {
        case .string("auto"): return ["type": "auto"]
        case .string("none"): return ["type": "none"]
        case .string("required"), .string("any"): return ["type": "any"]
        default:
            if choice["type"] == "function", let name = choice["function"]?["name"]?.stringValue {
                return ["type": "tool", "name": .string(name)]
            }
            throw ProviderError(
                .invalidRequest,
                message:
                    "tool_choice must be 'auto', 'none', 'required' or {\"type\":\"function\",\"function\":{\"name\":...}}"
            )
        }
    }

    // MARK: - Response

    /// Translates a Messages API response body into a chat completion.
    ///
    /// Text blocks are concatenated into the message content (`nil` when there are none),
    /// `tool_use` blocks become `tool_calls` with the input as JSON text, `stop_reason` maps
    /// through ``finishReason(_:)`` and usage through ``usage(_:)``. Thinking blocks are not
    /// part of the OpenAI shape and are dropped.
    ///
    /// - Parameters:
    ///   - body: The response body.
    ///   - requestedModel: The model name reported in the completion.
    /// - Throws: ``ProviderError`` of class `.unknown` when the body is not a Messages
    ///   response; the classified error when the body is an Anthropic error object.
    public func response(_ body: Data, requestedModel: String) throws -> ChatCompletion {
        let json = try WireJSON.decodeBody(body, vendor: "Anthropic", what: "Messages response")
        guard json.objectValue != nil else {
            throw WireJSON.malformed(vendor: "Anthropic", "Messages response is not a JSON object")
        }
        if json["type"] == "error" {
            throw Self.error(status: nil, errorObject: json["error"], headers: HeaderFields([]))
        }
        guard let blocks = json["content"]?.arrayValue else {
            throw WireJSON.malformed(vendor: "Anthropic", "Messages response has no 'content' array")
        }
        var texts: [String] = []
        var calls: [ToolCall] = []
        for (index, block) in blocks.enumerated() {
            switch block["type"]?.stringValue {
            case "text":
                texts.append(block["text"]?.stringValue ?? "")
            case "tool_use":
                guard let id = block["id"]?.stringValue, let name = block["name"]?.stringValue else {
                    throw WireJSON.malformed(
                        vendor: "Anthropic", "content[\(index)] tool_use block lacks 'id' or 'name'")
                }
                let arguments = WireJSON.text(block["input"] ?? .object([:]))
                calls.append(ToolCall(id: id, function: .init(name: name, arguments: arguments)))
            default:
                continue
            }
        }
        let message = ChatMessage(
            role: "assistant", content: texts.isEmpty ? nil : .text(texts.joined()),
            toolCalls: calls.isEmpty ? nil : calls)
        return ChatCompletion(
            id: json["id"]?.stringValue ?? "", created: Int(now().timeIntervalSince1970), model: requestedModel,
            choices: [
                .init(index: 0, message: message, finishReason: Self.finishReason(json["stop_reason"]?.stringValue))
            ],
            usage: Self.usage(json["usage"]))
    }

    /// The OpenAI `finish_reason` for an Anthropic `stop_reason`.
    ///
    /// `end_turn` and `stop_sequence` → `stop`, `max_tokens` → `length`, `tool_use` →
    /// `tool_calls`, `refusal` → `content_filter`; any other value is passed on unchanged.
    public static func finishReason(_ stopReason: String?) -> String? {
        switch stopReason {
        case nil: nil
        case "end_turn", "stop_sequence": "stop"
        case "max_tokens": "length"
        case "tool_use": "tool_calls"
        case "refusal": "content_filter"
        case let other?: other
        }
    }

    /// OpenAI usage for an Anthropic `usage` object.
    ///
    /// Anthropic's `input_tokens` excludes cached prompt tokens, so the prompt total is
    /// `input_tokens + cache_read_input_tokens + cache_creation_input_tokens`; the reads
    /// become `cachedTokens` and the writes `cacheWriteTokens`.
    public static func usage(_ usage: JSONValue?) -> Usage? {
        guard let usage, usage.objectValue != nil else { return nil }
        let cacheRead = usage["cache_read_input_tokens"]?.intValue.map(Usage.count)
        let cacheWrite = usage["cache_creation_input_tokens"]?.intValue.map(Usage.count)
        let input = Usage.count(usage["input_tokens"]?.intValue ?? 0)
        return Usage(
            promptTokens: input + (cacheRead ?? 0) + (cacheWrite ?? 0),
            completionTokens: usage["output_tokens"]?.intValue ?? 0,
            cachedTokens: cacheRead, cacheWriteTokens: cacheWrite)
    }
}

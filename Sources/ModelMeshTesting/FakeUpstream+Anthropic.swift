import Foundation
import ModelMesh

// Builders for the Anthropic Messages API wire format (`POST /v1/messages`).

/// A tool call a fake upstream answers with: an Anthropic `tool_use` block or a Gemini
/// `functionCall` part.
public struct FakeToolUse: Sendable, Hashable {
    /// The call id (`toolu_...`); Gemini calls may have none.
    public var id: String?
    /// The function name.
    public var name: String
    /// The arguments object.
    public var input: JSONValue

    public init(id: String? = nil, name: String, input: JSONValue = [:]) {
        self.id = id
        self.name = name
        self.input = input
    }
}

extension FakeResponse {
    /// A Messages API answer: text and `tool_use` content blocks, `stop_reason`, `usage`.
    ///
    /// `stopReason` defaults to `tool_use` when there are tool uses, else `end_turn`.
    public static func anthropicMessage(
        text: String? = "Hello!", toolUses: [FakeToolUse] = [], model: String = "claude-sonnet-4-20250514",
        stopReason: String? = nil, inputTokens: Int = 10, outputTokens: Int = 5, cacheReadTokens: Int? = nil,
        headers: [(name: String, value: String)] = []
    ) -> FakeResponse {
        var content: [JSONValue] = []
        if let text { content.append(["type": "text", "text": .string(text)]) }
        for (index, use) in toolUses.enumerated() {
            content.append([
                "type": "tool_use", "id": .string(use.id ?? "toolu_fake_\(index)"), "name": .string(use.name),
                "input": use.input,
            ])
        }
        let body: JSONValue = [
            "id": "msg_fake", "type": "message", "role": "assistant", "model": .string(model),
            "content": .array(content),
            "stop_reason": .string(stopReason ?? (toolUses.isEmpty ? "end_turn" : "tool_use")),
            "stop_sequence": nil,
            "usage": FakeAnthropic.usage(input: inputTokens, output: outputTokens, cacheRead: cacheReadTokens),
        ]
        return .json(encoding: body, headers: headers)
    }

    /// A streamed Messages API answer (``FakeStreamEvent/anthropicEvents(pieces:toolUses:model:stopReason:inputTokens:outputTokens:complete:delay:)``),
    /// ending as `ending` says (the body simply ends by default: Anthropic has no `[DONE]`).
    ///
    /// With `complete: false` the events stop before `message_delta` and `message_stop`.
    public static func anthropicStream(
        pieces: [String], toolUses: [FakeToolUse] = [], model: String = "claude-sonnet-4-20250514",
        stopReason: String? = nil, inputTokens: Int = 10, outputTokens: Int = 5, complete: Bool = true,
        delay: Duration = .zero, ending: FakeStreamEnding = .finish, headers: [(name: String, value: String)] = []
    ) -> FakeResponse {
        .sse(
            FakeStreamEvent.anthropicEvents(
                pieces: pieces, toolUses: toolUses, model: model, stopReason: stopReason, inputTokens: inputTokens,
                outputTokens: outputTokens, complete: complete, delay: delay),
            ending: ending, headers: headers)
    }

    /// An Anthropic error answer: `{"type":"error","error":{"type":...,"message":...}}`.
    ///
    /// Types and statuses as Anthropic sends them: `invalid_request_error` 400,
    /// `authentication_error` 401, `permission_error` 403, `not_found_error` 404,
    /// `request_too_large` 413, `rate_limit_error` 429, `api_error` 500, `overloaded_error` 529.
    public static func anthropicError(
        status: Int, type: String, message: String, headers: [(name: String, value: String)] = []
    ) -> FakeResponse {
        .json(encoding: FakeAnthropic.errorBody(type: type, message: message), status: status, headers: headers)
    }

    /// `529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`
    public static let anthropicOverloaded = anthropicError(status: 529, type: "overloaded_error", message: "Overloaded")

    /// A 429 `rate_limit_error` with `retry-after` (seconds) and the `anthropic-ratelimit-*`
    /// headers of an exhausted request window.
    public static func anthropicRateLimited(retryAfter: String?, headers: [(name: String, value: String)] = [])
        -> FakeResponse
    {
        var all = headers
        if let retryAfter { all.append(("retry-after", retryAfter)) }
        all.append(("anthropic-ratelimit-requests-limit", "50"))
        all.append(("anthropic-ratelimit-requests-remaining", "0"))
        return anthropicError(
            status: 429, type: "rate_limit_error",
            message: "This request would exceed the rate limit for your organization of 50 requests per minute.",
            headers: all)
    }

    /// A `GET /v1/models` page.
    public static func anthropicModelList(_ ids: [String], hasMore: Bool = false) -> FakeResponse {
        let data: [JSONValue] = ids.map { id in
            ["type": "model", "id": .string(id), "display_name": .string(id), "created_at": "2025-05-14T00:00:00Z"]
        }
        let body: JSONValue = [
            "data": .array(data), "has_more": .bool(hasMore),
            "first_id": ids.first.map(JSONValue.string) ?? .null, "last_id": ids.last.map(JSONValue.string) ?? .null,
        ]
        return .json(encoding: body)
    }
}

extension FakeStreamEvent {
    /// The events of a streamed answer as Anthropic sends them: `message_start`, a `ping`,
    /// a text block (`content_block_start`, one `text_delta` per piece, `content_block_stop`),
    /// one `tool_use` block per tool use (its input in two `input_json_delta` fragments), then
    /// `message_delta` (stop reason, output tokens) and `message_stop` — the last two only
    /// when `complete`.
    public static func anthropicEvents(
        pieces: [String], toolUses: [FakeToolUse] = [], model: String = "claude-sonnet-4-20250514",
        stopReason: String? = nil, inputTokens: Int = 10, outputTokens: Int = 5, complete: Bool = true,
        delay: Duration = .zero
    ) -> [FakeStreamEvent] {
        var events: [FakeStreamEvent] = [
            .anthropicMessageStart(model: model, inputTokens: inputTokens, delay: delay), .anthropicPing(delay: delay),
        ]
        var index = 0
        if !pieces.isEmpty {
            events.append(.anthropicTextBlockStart(index: index, delay: delay))
            for piece in pieces { events.append(.anthropicTextDelta(piece, index: index, delay: delay)) }
            events.append(.anthropicBlockStop(index: index, delay: delay))
            index += 1
        }
        for (number, use) in toolUses.enumerated() {
            events.append(
                .anthropicToolUseStart(
                    id: use.id ?? "toolu_fake_\(number)", name: use.name, index: index, delay: delay))
            let json = String(decoding: FakeJSON.encode(use.input), as: UTF8.self)
            let half = json.index(json.startIndex, offsetBy: json.count / 2)
            events.append(.anthropicInputJSONDelta(String(json[..<half]), index: index, delay: delay))
            events.append(.anthropicInputJSONDelta(String(json[half...]), index: index, delay: delay))
            events.append(.anthropicBlockStop(index: index, delay: delay))
            index += 1
        }
        if complete {
            events.append(
                .anthropicMessageDelta(
                    stopReason: stopReason ?? (toolUses.isEmpty ? "end_turn" : "tool_use"), outputTokens: outputTokens,
                    delay: delay))
            events.append(.anthropicMessageStop(delay: delay))
        }
        return events
    }

    /// `event: <type>` with `data:` the payload, its `type` member set to `type`.
    public static func anthropic(_ type: String, _ payload: JSONValue = [:], delay: Duration = .zero)
        -> FakeStreamEvent
    {
        var object = payload.objectValue ?? [:]
        object["type"] = .string(type)
        return .json(JSONValue.object(object), event: type, delay: delay)
    }

    /// `message_start` with the message id, model and input usage.
    public static func anthropicMessageStart(
        model: String = "claude-sonnet-4-20250514", inputTokens: Int = 10, delay: Duration = .zero
    ) -> FakeStreamEvent {
        anthropic(
            "message_start",
            [
                "message": [
                    "id": "msg_fake", "type": "message", "role": "assistant", "model": .string(model), "content": [],
                    "stop_reason": nil, "stop_sequence": nil,
                    "usage": FakeAnthropic.usage(input: inputTokens, output: 1, cacheRead: nil),
                ]
            ], delay: delay)
    }

    /// `content_block_start` of an empty text block.
    public static func anthropicTextBlockStart(index: Int = 0, delay: Duration = .zero) -> FakeStreamEvent {
        anthropic(
            "content_block_start", ["index": .int(index), "content_block": ["type": "text", "text": ""]], delay: delay)
    }

    /// `content_block_delta` with a `text_delta`.
    public static func anthropicTextDelta(_ text: String, index: Int = 0, delay: Duration = .zero) -> FakeStreamEvent {
        anthropic(
            "content_block_delta", ["index": .int(index), "delta": ["type": "text_delta", "text": .string(text)]],
            delay: delay)
    }

    /// `content_block_start` of a `tool_use` block.
    public static func anthropicToolUseStart(id: String, name: String, index: Int, delay: Duration = .zero)
        -> FakeStreamEvent
    {
        anthropic(
            "content_block_start",
            [
                "index": .int(index),
                "content_block": ["type": "tool_use", "id": .string(id), "name": .string(name), "input": [:]],
            ], delay: delay)
    }

    /// `content_block_delta` with an `input_json_delta` fragment.
    public static func anthropicInputJSONDelta(_ fragment: String, index: Int, delay: Duration = .zero)
        -> FakeStreamEvent
    {
        anthropic(
            "content_block_delta",
            ["index": .int(index), "delta": ["type": "input_json_delta", "partial_json": .string(fragment)]],
            delay: delay)
    }

    /// `content_block_stop`.
    public static func anthropicBlockStop(index: Int = 0, delay: Duration = .zero) -> FakeStreamEvent {
        anthropic("content_block_stop", ["index": .int(index)], delay: delay)
    }

    /// `message_delta` with the stop reason and the cumulative output tokens.
    public static func anthropicMessageDelta(
        stopReason: String = "end_turn", outputTokens: Int, delay: Duration = .zero
    )
        -> FakeStreamEvent
    {
        anthropic(
            "message_delta",
            [
                "delta": ["stop_reason": .string(stopReason), "stop_sequence": nil],
                "usage": ["output_tokens": .int(outputTokens)],
            ], delay: delay)
    }

    /// `message_stop`: the end of a complete answer.
    public static func anthropicMessageStop(delay: Duration = .zero) -> FakeStreamEvent {
        anthropic("message_stop", delay: delay)
    }

    /// `ping` (keep-alive).
    public static func anthropicPing(delay: Duration = .zero) -> FakeStreamEvent {
        anthropic("ping", delay: delay)
    }

    /// An in-band `error` event, e.g. `overloaded_error` in the middle of a stream.
    public static func anthropicError(
        type: String = "overloaded_error", message: String = "Overloaded", delay: Duration = .zero
    )
        -> FakeStreamEvent
    {
        .json(FakeAnthropic.errorBody(type: type, message: message), event: "error", delay: delay)
    }
}

enum FakeAnthropic {
    static func errorBody(type: String, message: String) -> JSONValue {
        ["type": "error", "error": ["type": .string(type), "message": .string(message)]]
    }

    static func usage(input: Int, output: Int, cacheRead: Int?) -> JSONValue {
        var usage: [String: JSONValue] = ["input_tokens": .int(input), "output_tokens": .int(output)]
        if let cacheRead {
            usage["cache_read_input_tokens"] = .int(cacheRead)
            usage["cache_creation_input_tokens"] = 0
        }
        return .object(usage)
    }
}

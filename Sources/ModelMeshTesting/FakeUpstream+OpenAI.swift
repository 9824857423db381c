import Foundation
import ModelMesh

// Builders for the OpenAI wire format, the one most of the family speaks.

extension FakeResponse {
    /// A `chat.completion` answer.
    public static func openAIChatCompletion(
        content: String? = "Hello!", model: String = "gpt-4o", toolCalls: [ToolCall]? = nil,
        finishReason: String? = nil, usage: Usage? = Usage(promptTokens: 10, completionTokens: 5),
        headers: [(name: String, value: String)] = []
    ) -> FakeResponse {
        let message = ChatMessage(role: "assistant", content: content.map { .text($0) }, toolCalls: toolCalls)
        let completion = ChatCompletion(
            id: "chatcmpl-fake", created: 1_768_478_400, model: model,
            choices: [
                .init(message: message, finishReason: finishReason ?? (toolCalls == nil ? "stop" : "tool_calls"))
            ],
            usage: usage)
        return .json(encoding: completion, headers: headers)
    }

    /// A streamed answer: a role chunk, one chunk per piece, a finish chunk, a usage chunk
    /// (when `usage` is given), then `ending` (by default `data: [DONE]`).
    public static func openAIStream(
        pieces: [String], model: String = "gpt-4o", usage: Usage? = Usage(promptTokens: 10, completionTokens: 5),
        delay: Duration = .zero, ending: FakeStreamEnding = .done, headers: [(name: String, value: String)] = []
    ) -> FakeResponse {
        .sse(
            FakeStreamEvent.openAIChunks(pieces: pieces, model: model, usage: usage, delay: delay), ending: ending,
            headers: headers)
    }

    /// An OpenAI error answer: `{"error": {"message", "type", "param", "code"}}`.
    public static func openAIError(
        status: Int, message: String, type: String? = nil, code: String? = nil, param: String? = nil,
        headers: [(name: String, value: String)] = []
    ) -> FakeResponse {
        .json(
            encoding: FakeOpenAI.errorBody(message: message, type: type, code: code, param: param), status: status,
            headers: headers)
    }

    /// A 429 with `Retry-After` (seconds or an HTTP date) and an OpenAI rate-limit body.
    public static func rateLimited(
        retryAfter: String?, message: String = "Rate limit reached for requests", code: String? = "rate_limit_exceeded",
        headers: [(name: String, value: String)] = []
    ) -> FakeResponse {
        var all = headers
        if let retryAfter { all.append(("retry-after", retryAfter)) }
        return .openAIError(status: 429, message: message, type: "requests", code: code, headers: all)
    }
}

extension FakeStreamEvent {
    /// `chat.completion.chunk` events for `pieces`: a role chunk, the text pieces, a finish
    /// chunk, and a usage chunk when `usage` is given (no `[DONE]`: that is the ending's job).
    public static func openAIChunks(
        pieces: [String], model: String = "gpt-4o", usage: Usage? = Usage(promptTokens: 10, completionTokens: 5),
        delay: Duration = .zero
    ) -> [FakeStreamEvent] {
        var chunks: [ChatCompletionChunk] = [
            FakeOpenAI.chunk(model: model, delta: .init(role: "assistant", content: ""))
        ]
        for piece in pieces {
            chunks.append(FakeOpenAI.chunk(model: model, delta: .init(content: piece)))
        }
        chunks.append(FakeOpenAI.chunk(model: model, delta: .init(), finishReason: "stop"))
        var events = chunks.map { FakeStreamEvent.json($0, delay: delay) }
        if let usage {
            let usageChunk = ChatCompletionChunk(
                id: "chatcmpl-fake", created: 1_768_478_400, model: model, choices: [], usage: usage)
            events.append(.json(usageChunk, delay: delay))
        }
        return events
    }

    /// One `chat.completion.chunk` event.
    public static func openAIChunk(
        content: String? = nil, role: String? = nil, toolCalls: [ToolCall]? = nil, finishReason: String? = nil,
        model: String = "gpt-4o", delay: Duration = .zero
    ) -> FakeStreamEvent {
        .json(
            FakeOpenAI.chunk(
                model: model, delta: .init(role: role, content: content, toolCalls: toolCalls),
                finishReason: finishReason), delay: delay)
    }

    /// An in-band error event: `data: {"error": {...}}`.
    public static func openAIError(
        message: String, type: String? = "server_error", code: String? = nil, delay: Duration = .zero
    ) -> FakeStreamEvent {
        .json(FakeOpenAI.errorBody(message: message, type: type, code: code, param: nil), delay: delay)
    }
}

enum FakeOpenAI {
    static func chunk(model: String, delta: ChatCompletionChunk.Delta, finishReason: String? = nil)
        -> ChatCompletionChunk
    {
        ChatCompletionChunk(
            id: "chatcmpl-fake", created: 1_768_478_400, model: model,
            choices: [.init(delta: delta, finishReason: finishReason)])
    }

    static func errorBody(message: String, type: String?, code: String?, param: String?) -> JSONValue {
        [
            "error": [
                "message": .string(message), "type": type.map(JSONValue.string) ?? .null,
                "param": param.map(JSONValue.string) ?? .null, "code": code.map(JSONValue.string) ?? .null,
            ]
        ]
    }
}

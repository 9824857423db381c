import Foundation
import ModelMesh
import Testing

@testable import ModelMeshProviders

@Suite("Anthropic stream translation")
struct AnthropicStreamTranslatorTests {
    /// Feeds a transcript and collects every chunk.
    func run(_ events: [(String, String)], translator: inout AnthropicStreamTranslator) throws -> [ChatCompletionChunk]
    {
        var chunks: [ChatCompletionChunk] = []
        for (event, data) in events { chunks += try translator.consume(event: event, data: data) }
        return chunks
    }

    func chunk(
        _ delta: ChatCompletionChunk.Delta, finish: String? = nil, id: String = "msg_014p7gG3wDgGV9EUtLvnow3U",
        model: String = "claude-sonnet-4-20250514"
    ) -> ChatCompletionChunk {
        ChatCompletionChunk(
            id: id, created: 1_750_000_000, model: model, choices: [.init(index: 0, delta: delta, finishReason: finish)]
        )
    }

    static let textTranscript: [(String, String)] = [
        (
            "message_start",
            #"{"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":0,"cache_read_input_tokens":1024,"output_tokens":2}}}"#
        ),
        ("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
        ("ping", #"{"type": "ping"}"#),
        (
            "content_block_delta",
            #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#
        ),
        (
            "content_block_delta",
            #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":", world!"}}"#
        ),
        ("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
        (
            "message_delta",
            #"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}"#
        ),
        ("message_stop", #"{"type":"message_stop"}"#),
    ]

    @Test("a text transcript becomes role, content, finish and usage chunks")
    func textStream() throws {
        var translator = AnthropicStreamTranslator(model: "claude-sonnet-4-20250514", created: fixedDate)
        let chunks = try run(Self.textTranscript, translator: &translator)
        let usage = Usage(promptTokens: 1496, completionTokens: 15, cachedTokens: 1024, cacheWriteTokens: 0)
        let expected = [
            chunk(.init(role: "assistant", content: "")),
            chunk(.init(content: "Hello")),
            chunk(.init(content: ", world!")),
            chunk(.init(), finish: "stop"),
            ChatCompletionChunk(
                id: "msg_014p7gG3wDgGV9EUtLvnow3U", created: 1_750_000_000, model: "claude-sonnet-4-20250514",
                choices: [], usage: usage),
        ]
        #expect(chunks == expected)
        #expect(translator.isComplete)
        #expect(translator.finishReason == "stop")
    }

    @Test("a stream cut before message_stop is not complete")
    func cutStream() throws {
        var translator = AnthropicStreamTranslator(model: "claude-sonnet-4-20250514", created: fixedDate)
        let chunks = try run(Array(Self.textTranscript.prefix(5)), translator: &translator)
        #expect(chunks.count == 3)
        #expect(!translator.isComplete)
        #expect(translator.finishReason == nil)
    }

    @Test("tool use: a start delta per call, then argument fragments with the call's index")
    func toolUseStream() throws {
        let transcript: [(String, String)] = [
            (
                "message_start",
                #"{"type":"message_start","message":{"id":"msg_01T","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[],"stop_reason":null,"usage":{"input_tokens":384,"output_tokens":1}}}"#
            ),
            (
                "content_block_start",
                #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#
            ),
            (
                "content_block_delta",
                #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking both."}}"#
            ),
            ("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
            (
                "content_block_start",
                #"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01AB","name":"get_weather","input":{}}}"#
            ),
            (
                "content_block_delta",
                #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}"#
            ),
            (
                "content_block_delta",
                #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Par"}}"#
            ),
            (
                "content_block_delta",
                #"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"is\"}"}}"#
            ),
            ("content_block_stop", #"{"type":"content_block_stop","index":1}"#),
            (
                "content_block_start",
                #"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01CD","name":"get_time","input":{}}}"#
            ),
            (
                "content_block_delta",
                #"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#
            ),
            ("content_block_stop", #"{"type":"content_block_stop","index":2}"#),
            (
                "message_delta",
                #"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}"#
            ),
            ("message_stop", #"{"type":"message_stop"}"#),
        ]
        var translator = AnthropicStreamTranslator(model: "claude-sonnet-4-20250514", created: fixedDate)
        let chunks = try run(transcript, translator: &translator)
        func call(_ index: Int, id: String? = nil, name: String? = nil, arguments: String) -> ChatCompletionChunk.Delta
        {
            .init(
                toolCalls: [
                    ToolCall(
                        index: index, id: id, type: id == nil ? nil : "function",
                        function: .init(name: name, arguments: arguments))
                ])
        }
        let expected = [
            chunk(.init(role: "assistant", content: ""), id: "msg_01T"),
            chunk(.init(content: "Checking both."), id: "msg_01T"),
            chunk(call(0, id: "toolu_01AB", name: "get_weather", arguments: ""), id: "msg_01T"),
            chunk(call(0, arguments: "{\"city\": \"Par"), id: "msg_01T"),
            chunk(call(0, arguments: "is\"}"), id: "msg_01T"),
            chunk(call(1, id: "toolu_01CD", name: "get_time", arguments: ""), id: "msg_01T"),
            chunk(call(1, arguments: "{}"), id: "msg_01T"),
            chunk(.init(), finish: "tool_calls", id: "msg_01T"),
            ChatCompletionChunk(
                id: "msg_01T", created: 1_750_000_000, model: "claude-sonnet-4-20250514", choices: [],
                usage: Usage(promptTokens: 384, completionTokens: 89)),
        ]
        #expect(chunks == expected)
        #expect(translator.isComplete)
    }

    @Test("the event name may be omitted; the data's type is used")
    func typeFromData() throws {
        var translator = AnthropicStreamTranslator(model: "m", created: fixedDate)
        let chunks = try run(Self.textTranscript.map { ("", $0.1) }, translator: &translator)
        #expect(chunks.count == 5)
        #expect(translator.isComplete)
    }

    @Test(
        "an error event throws the classified error",
        arguments: [
            (
                #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
                ProviderErrorClass.serverError
            ),
            (#"{"type":"error","error":{"type":"rate_limit_error","message":"Rate limited"}}"#, .rateLimited),
            (#"{"type":"error","error":{"type":"api_error","message":"Internal server error"}}"#, .serverError),
        ])
    func errorEvent(data: String, errorClass: ProviderErrorClass) throws {
        var translator = AnthropicStreamTranslator(model: "m", created: fixedDate)
        _ = try run(Array(Self.textTranscript.prefix(4)), translator: &translator)
        let error = try #require(throws: ProviderError.self) {
            try translator.consume(event: "error", data: data)
        }
        #expect(error.errorClass == errorClass)
        #expect(!translator.isComplete)
    }

    @Test("malformed event data is a classified error")
    func malformedData() throws {
        var translator = AnthropicStreamTranslator(model: "m", created: fixedDate)
        let notJSON = try #require(throws: ProviderError.self) {
            try translator.consume(event: "content_block_delta", data: "{\"type\":\"content_block_del")
        }
        #expect(notJSON.errorClass == .unknown)
        let strayFragment = try #require(throws: ProviderError.self) {
            try translator.consume(
                event: "content_block_delta",
                data:
                    #"{"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{"}}"#)
        }
        #expect(strayFragment.errorClass == .unknown)
    }
}

import Foundation
import ModelMesh
import Testing

@testable import ModelMeshProviders

/// Parses bytes as a JSON tree so bodies compare structurally, not as strings.
func parsedJSON(_ data: Data) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: data)
}

/// Parses a JSON literal written in a test.
func parsedJSON(_ text: String) throws -> JSONValue {
    try parsedJSON(Data(text.utf8))
}

/// A fixed clock for reproducible `created` timestamps.
let fixedDate = Date(timeIntervalSince1970: 1_750_000_000)

@Suite("Anthropic request translation")
struct AnthropicRequestTests {
    let translator = AnthropicTranslator(now: { fixedDate })

    @Test("system and developer messages become top-level system; max_tokens defaults")
    func systemAndDefaults() throws {
        let request = ChatCompletionRequest(
            model: "chat",
            messages: [
                .system("You are terse."),
                ChatMessage(role: "developer", content: .text("Answer in French.")),
                .user("Hello"),
            ])
        let body = try parsedJSON(translator.request(request, model: "claude-sonnet-4-20250514", stream: false))
        let expected = try parsedJSON(
            """
            {"model": "claude-sonnet-4-20250514", "max_tokens": 4096,
             "system": "You are terse.\\n\\nAnswer in French.",
             "messages": [{"role": "user", "content": "Hello"}]}
            """)
        #expect(body == expected)
    }

    @Test("the caller's max_tokens wins; a configured default is used otherwise")
    func maxTokens() throws {
        var request = ChatCompletionRequest(model: "m", messages: [.user("Hi")])
        #expect(
            try translator.requestBody(request, model: "m", stream: false, defaultMaxTokens: 16384)["max_tokens"]
                == 16384)
        request.maxTokens = 100
        #expect(
            try translator.requestBody(request, model: "m", stream: false, defaultMaxTokens: 16384)["max_tokens"] == 100
        )
        request.maxCompletionTokens = 50
        #expect(try translator.requestBody(request, model: "m", stream: false)["max_tokens"] == 50)
    }

    @Test("multi-part content with https and data: images, sampling, stop, user, stream")
    func multiPartAndSampling() throws {
        let request = ChatCompletionRequest(
            model: "vision",
            messages: [
                ChatMessage(
                    role: "user",
                    content: .parts([
                        .text("What is in these images?"),
                        .imageURL(url: "https://example.com/cat.jpg", detail: "high"),
                        .imageURL(url: "data:image/png;base64,iVBORw0KGgo=", detail: nil),
                    ]))
            ],
            stream: true, maxTokens: 300, temperature: 1.7, topP: 0.9, stop: .many(["END", "STOP"]),
            user: "user-42", extra: ["seed": 7, "top_k": 40])
        let body = try parsedJSON(translator.request(request, model: "claude-haiku-4-5-20251001", stream: true))
        let expected = try parsedJSON(
            """
            {"model": "claude-haiku-4-5-20251001", "max_tokens": 300, "stream": true,
             "temperature": 1, "top_p": 0.9, "top_k": 40,
             "stop_sequences": ["END", "STOP"],
             "metadata": {"user_id": "user-42"},
             "messages": [{"role": "user", "content": [
                {"type": "text", "text": "What is in these images?"},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
             ]}]}
            """)
        #expect(body == expected)
    }

    @Test("tools, tool calls and tool results; consecutive turns merged")
    func toolsRoundTrip() throws {
        let weather = Tool(
            function: .init(
                name: "get_weather", description: "Current weather",
                parameters: ["type": "object", "properties": ["city": ["type": "string"]], "required": ["city"]]))
        let clock = Tool(function: .init(name: "get_time"))
        let request = ChatCompletionRequest(
            model: "tools",
            messages: [
                .user("Weather and time in Paris?"),
                ChatMessage(
                    role: "assistant", content: .text("Let me check."),
                    toolCalls: [
                        ToolCall(
                            id: "toolu_01", function: .init(name: "get_weather", arguments: "{\"city\":\"Paris\"}")),
                        ToolCall(id: "toolu_02", function: .init(name: "get_time", arguments: "")),
                    ]),
                ChatMessage(role: "tool", content: .text("18°C, cloudy"), toolCallID: "toolu_01"),
                ChatMessage(role: "tool", content: .text("14:05"), toolCallID: "toolu_02"),
                .user("Thanks."),
                .user("Also: umbrella?"),
            ],
            tools: [weather, clock], toolChoice: "required")
        let body = try parsedJSON(translator.request(request, model: "claude-sonnet-4-20250514", stream: false))
        let expected = try parsedJSON(
            """
            {"model": "claude-sonnet-4-20250514", "max_tokens": 4096,
             "tools": [
               {"name": "get_weather", "description": "Current weather",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
               {"name": "get_time", "input_schema": {"type": "object", "properties": {}}}
             ],
             "tool_choice": {"type": "any"},
             "messages": [
               {"role": "user", "content": "Weather and time in Paris?"},
               {"role": "assistant", "content": [
                 {"type": "text", "text": "Let me check."},
                 {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
                 {"type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {}}
               ]},
               {"role": "user", "content": [
                 {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18°C, cloudy"},
                 {"type": "tool_result", "tool_use_id": "toolu_02", "content": "14:05"},
                 {"type": "text", "text": "Thanks."},
                 {"type": "text", "text": "Also: umbrella?"}
               ]}
             ]}
            """)
        #expect(body == expected)
    }

    @Test(
        "tool_choice mapping",
        arguments: [
            ("auto", ["type": "auto"]),
            ("none", ["type": "none"]),
            ("required", ["type": "any"]),
            (["type": "function", "function": ["name": "get_weather"]], ["type": "tool", "name": "get_weather"]),
        ] as [(JSONValue, JSONValue)])
    func toolChoice(choice: JSONValue, expected: JSONValue) throws {
        let request = ChatCompletionRequest(
            model: "m", messages: [.user("Hi")], tools: [Tool(function: .init(name: "get_weather"))], toolChoice: choice
        )
        #expect(try translator.requestBody(request, model: "m", stream: false)["tool_choice"] == expected)
    }

    @Test("parallel_tool_calls false disables parallel tool use")
    func parallelToolCalls() throws {
        let request = ChatCompletionRequest(
            model: "m", messages: [.user("Hi")], tools: [Tool(function: .init(name: "f"))],
            extra: ["parallel_tool_calls": false])
        #expect(
            try translator.requestBody(request, model: "m", stream: false)["tool_choice"]
                == ["type": "auto", "disable_parallel_tool_use": true])
    }

    @Test("tool-call arguments that are not JSON are a clear invalid-request error")
    func invalidArguments() throws {
        let request = ChatCompletionRequest(
            model: "m",
            messages: [
                .user("Hi"),
                ChatMessage(
                    role: "assistant", content: nil,
                    toolCalls: [ToolCall(id: "toolu_9", function: .init(name: "lookup", arguments: "{\"q\": "))]),
            ])
        let error = try #require(throws: ProviderError.self) {
            try translator.request(request, model: "m", stream: false)
        }
        #expect(error.errorClass == .invalidRequest)
        #expect(error.message.contains("toolu_9"))
        #expect(error.message.contains("not valid JSON"))
    }

    @Test(
        "requests that cannot be expressed are invalid-request errors",
        arguments: [
            ChatMessage(role: "tool", content: .text("result"), toolCallID: nil),
            ChatMessage(role: "user", content: .parts([.other(["type": "input_audio", "input_audio": [:]])])),
            ChatMessage(role: "user", content: .parts([.imageURL(url: "data:image/png,notbase64", detail: nil)])),
            ChatMessage(role: "user", content: .parts([.imageURL(url: "ftp://example.com/a.png", detail: nil)])),
            ChatMessage(role: "narrator", content: .text("Once upon a time")),
        ])
    func unrepresentable(message: ChatMessage) throws {
        let request = ChatCompletionRequest(model: "m", messages: [.user("Hi"), message])
        let error = try #require(throws: ProviderError.self) {
            try translator.request(request, model: "m", stream: false)
        }
        #expect(error.errorClass == .invalidRequest)
        #expect(error.message.contains("messages[1]"))
    }
}

@Suite("Anthropic response translation")
struct AnthropicResponseTests {
    let translator = AnthropicTranslator(now: { fixedDate })

    @Test("text and tool use blocks, usage with cache tokens")
    func textAndToolUse() throws {
        let body = """
            {"id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
             "model": "claude-sonnet-4-20250514",
             "content": [
               {"type": "text", "text": "I'll check "},
               {"type": "text", "text": "the weather."},
               {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
                "input": {"location": "San Francisco, CA", "unit": "celsius"}}
             ],
             "stop_reason": "tool_use", "stop_sequence": null,
             "usage": {"input_tokens": 472, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 2048,
                       "output_tokens": 89}}
            """
        let completion = try translator.response(Data(body.utf8), requestedModel: "claude-sonnet-4-20250514")
        let expected = ChatCompletion(
            id: "msg_01XFDUDYJgAACzvnptvVoYEL", created: 1_750_000_000, model: "claude-sonnet-4-20250514",
            choices: [
                .init(
                    index: 0,
                    message: ChatMessage(
                        role: "assistant", content: .text("I'll check the weather."),
                        toolCalls: [
                            ToolCall(
                                id: "toolu_01A09q90qw90lq917835lq9",
                                function: .init(
                                    name: "get_weather",
                                    arguments: "{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}"))
                        ]),
                    finishReason: "tool_calls")
            ],
            usage: Usage(promptTokens: 2620, completionTokens: 89, cachedTokens: 2048, cacheWriteTokens: 100))
        #expect(completion == expected)
        #expect(completion.usage?.totalTokens == 2709)
    }

    @Test(
        "stop reasons",
        arguments: [
            ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
            ("refusal", "content_filter"), ("pause_turn", "pause_turn"),
        ])
    func stopReasons(stopReason: String, finishReason: String) throws {
        let body = """
            {"id": "msg_1", "type": "message", "role": "assistant", "content": [{"type": "text", "text": "ok"}],
             "stop_reason": "\(stopReason)", "usage": {"input_tokens": 3, "output_tokens": 1}}
            """
        let completion = try translator.response(Data(body.utf8), requestedModel: "m")
        #expect(completion.choices.first?.finishReason == finishReason)
        #expect(completion.usage == Usage(promptTokens: 3, completionTokens: 1))
        #expect(completion.text == "ok")
    }

    @Test("a response without text blocks has nil content; thinking blocks are dropped")
    func noText() throws {
        let body = """
            {"id": "msg_2", "type": "message", "role": "assistant",
             "content": [{"type": "thinking", "thinking": "hmm", "signature": "sig"},
                         {"type": "tool_use", "id": "toolu_2", "name": "noop", "input": {}}],
             "stop_reason": "tool_use", "usage": {"input_tokens": 1, "output_tokens": 1}}
            """
        let completion = try translator.response(Data(body.utf8), requestedModel: "m")
        #expect(completion.choices.first?.message.content == nil)
        #expect(completion.choices.first?.message.toolCalls?.first?.function.arguments == "{}")
    }

    @Test(
        "malformed bodies are classified errors, not crashes",
        arguments: [
            "not json", "[1,2]", "{\"id\": \"msg\", \"content\": \"text\"}", "",
            "{\"content\": [{\"type\": \"tool_use\", \"input\": {}}]}",
        ])
    func malformed(body: String) throws {
        let error = try #require(throws: ProviderError.self) {
            try translator.response(Data(body.utf8), requestedModel: "m")
        }
        #expect(error.errorClass == .unknown)
        #expect(error.message.contains("Malformed Anthropic response"))
    }
}

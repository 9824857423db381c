import Foundation
import ModelMesh
import Testing

@testable import ModelMeshProviders

@Suite("Gemini request translation")
struct GeminiRequestTests {
    let translator = GeminiTranslator(now: { fixedDate })

    @Test("paths for generate, stream and embeddings")
    func paths() throws {
        #expect(
            GeminiTranslator.generatePath(model: "gemini-2.0-flash", stream: false)
                == "/v1beta/models/gemini-2.0-flash:generateContent")
        #expect(
            GeminiTranslator.generatePath(model: "models/gemini-2.5-flash", stream: true)
                == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
    }

    @Test("system instruction, roles, generation config and sampling")
    func basicRequest() throws {
        let request = ChatCompletionRequest(
            model: "chat",
            messages: [
                .system("You are terse."),
                ChatMessage(role: "developer", content: .text("Answer in French.")),
                .user("Hello"),
                .assistant("Bonjour."),
                .user("How are you?"),
            ],
            maxTokens: 256, temperature: 0.7, topP: 0.95, stop: .one("END"),
            extra: ["seed": 42, "presence_penalty": 0.5, "logit_bias": [:]])
        let body = try parsedJSON(translator.request(request))
        let expected = try parsedJSON(
            """
            {"systemInstruction": {"parts": [{"text": "You are terse.\\n\\nAnswer in French."}]},
             "contents": [
               {"role": "user", "parts": [{"text": "Hello"}]},
               {"role": "model", "parts": [{"text": "Bonjour."}]},
               {"role": "user", "parts": [{"text": "How are you?"}]}
             ],
             "generationConfig": {"maxOutputTokens": 256, "temperature": 0.7, "topP": 0.95,
                                  "stopSequences": ["END"], "seed": 42, "presencePenalty": 0.5}}
            """)
        #expect(body == expected)
    }

    @Test("defaults: no generationConfig unless something is set; a configured max applies")
    func defaults() throws {
        let request = ChatCompletionRequest(model: "m", messages: [.user("Hi")])
        #expect(try translator.requestBody(request) == ["contents": [["role": "user", "parts": [["text": "Hi"]]]]])
        let capped = try translator.requestBody(
            request, defaultMaxTokens: 8192,
            safetySettings: [
                ["category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"]
            ])
        #expect(capped["generationConfig"] == ["maxOutputTokens": 8192])
        #expect(capped["safetySettings"]?.arrayValue?.count == 1)
    }

    @Test("images: data URLs inline, https URLs as file data with a guessed MIME type")
    func images() throws {
        let request = ChatCompletionRequest(
            model: "vision",
            messages: [
                ChatMessage(
                    role: "user",
                    content: .parts([
                        .text("Compare these."),
                        .imageURL(url: "data:image/webp;base64,UklGRh4AAABXRUJQ", detail: nil),
                        .imageURL(url: "https://example.com/photos/cat.PNG?size=large", detail: "low"),
                        .imageURL(url: "https://example.com/render", detail: nil),
                    ]))
            ])
        let body = try parsedJSON(translator.request(request))
        let expected = try parsedJSON(
            """
            {"contents": [{"role": "user", "parts": [
               {"text": "Compare these."},
               {"inlineData": {"mimeType": "image/webp", "data": "UklGRh4AAABXRUJQ"}},
               {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/photos/cat.PNG?size=large"}},
               {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/render"}}
            ]}]}
            """)
        #expect(body == expected)
    }

    @Test("tools, function calls and responses mapped back to function names; schemas reduced")
    func tools() throws {
        let weather = Tool(
            function: .init(
                name: "get_weather", description: "Current weather",
                parameters: [
                    "type": "object", "additionalProperties": false,
                    "$schema": "http://json-schema.org/draft-07/schema#",
                    "properties": [
                        "city": ["type": "string"],
                        "unit": ["type": ["string", "null"], "enum": ["c", "f"]],
                        "additionalProperties": ["type": "string", "description": "a property with an unlucky name"],
                    ],
                    "required": ["city"],
                ]))
        let request = ChatCompletionRequest(
            model: "tools",
            messages: [
                .user("Weather and time in Paris?"),
                ChatMessage(
                    role: "assistant", content: nil,
                    toolCalls: [
                        ToolCall(id: "call_a", function: .init(name: "get_weather", arguments: "{\"city\":\"Paris\"}")),
                        ToolCall(id: "call_b", function: .init(name: "get_time", arguments: "")),
                    ]),
                ChatMessage(role: "tool", content: .text("{\"temp\": 18}"), toolCallID: "call_a"),
                ChatMessage(role: "tool", content: .text("14:05"), toolCallID: "call_b"),
            ],
            tools: [
                weather, Tool(function: .init(name: "get_time", parameters: ["type": "object", "properties": [:]])),
            ],
            toolChoice: ["type": "function", "function": ["name": "get_weather"]])
        let body = try parsedJSON(translator.request(request))
        let expected = try parsedJSON(
            """
            {"contents": [
               {"role": "user", "parts": [{"text": "Weather and time in Paris?"}]},
               {"role": "model", "parts": [
                 {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                 {"functionCall": {"name": "get_time", "args": {}}}
               ]},
               {"role": "user", "parts": [
                 {"functionResponse": {"name": "get_weather", "response": {"content": "{\\"temp\\": 18}"}}},
                 {"functionResponse": {"name": "get_time", "response": {"content": "14:05"}}}
               ]}
             ],
             "tools": [{"functionDeclarations": [
               {"name": "get_weather", "description": "Current weather",
                "parameters": {"type": "object", "required": ["city"], "properties": {
                  "city": {"type": "string"},
                  "unit": {"type": "string", "nullable": true, "enum": ["c", "f"]},
                  "additionalProperties": {"type": "string", "description": "a property with an unlucky name"}
                }}},
               {"name": "get_time"}
             ]}],
             "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}}
            """)
        #expect(body == expected)
    }

    @Test(
        "tool_choice modes",
        arguments: [("auto", "AUTO"), ("none", "NONE"), ("required", "ANY")] as [(JSONValue, JSONValue)])
    func toolChoice(choice: JSONValue, mode: JSONValue) throws {
        let request = ChatCompletionRequest(
            model: "m", messages: [.user("Hi")], tools: [Tool(function: .init(name: "f"))], toolChoice: choice)
        #expect(try translator.requestBody(request)["toolConfig"] == ["functionCallingConfig": ["mode": mode]])
    }

    @Test("response_format json_object and json_schema")
    func responseFormat() throws {
        var request = ChatCompletionRequest(
            model: "m", messages: [.user("List two colours")], responseFormat: ["type": "json_object"])
        #expect(try translator.requestBody(request)["generationConfig"] == ["responseMimeType": "application/json"])
        request.responseFormat = [
            "type": "json_schema",
            "json_schema": [
                "name": "colours", "strict": true,
                "schema": [
                    "type": "object", "additionalProperties": false,
                    "properties": ["colours": ["type": "array", "items": ["type": "string"]]], "required": ["colours"],
                ],
            ],
        ]
        let expected = try parsedJSON(
            """
            {"responseMimeType": "application/json",
             "responseSchema": {"type": "object", "required": ["colours"],
                                "properties": {"colours": {"type": "array", "items": {"type": "string"}}}}}
            """)
        #expect(try translator.requestBody(request)["generationConfig"] == expected)
    }

    @Test(
        "requests that cannot be expressed are invalid-request errors",
        arguments: [
            ChatMessage(role: "tool", content: .text("18°C"), toolCallID: "call_unknown"),
            ChatMessage(role: "tool", content: .text("18°C"), toolCallID: nil),
            ChatMessage(
                role: "assistant", content: nil,
                toolCalls: [ToolCall(id: "c1", function: .init(name: "f", arguments: "not json"))]),
            ChatMessage(
                role: "assistant", content: nil,
                toolCalls: [ToolCall(id: "c1", function: .init(name: "f", arguments: "[1, 2]"))]),
            ChatMessage(role: "user", content: .parts([.imageURL(url: "data:;base64,AAAA", detail: nil)])),
            ChatMessage(role: "user", content: .parts([.other(["type": "file", "file": ["file_id": "f1"]])])),
        ])
    func unrepresentable(message: ChatMessage) throws {
        let request = ChatCompletionRequest(model: "m", messages: [.user("Hi"), message])
        let error = try #require(throws: ProviderError.self) { try translator.request(request) }
        #expect(error.errorClass == .invalidRequest)
        #expect(error.message.contains("messages[1]"))
    }
}

@Suite("Gemini response translation")
struct GeminiResponseTests {
    let translator = GeminiTranslator(now: { fixedDate })

    @Test("text candidate with usage including cached tokens")
    func text() throws {
        let body = """
            {"candidates": [{"content": {"parts": [{"text": "Paris is "}, {"text": "the capital."}], "role": "model"},
                             "finishReason": "STOP", "index": 0,
                             "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}]}],
             "usageMetadata": {"promptTokenCount": 1200, "candidatesTokenCount": 8, "totalTokenCount": 1208,
                               "cachedContentTokenCount": 1024},
             "modelVersion": "gemini-2.0-flash", "responseId": "mS9jaPuLB9-Wz7IPqYSWwQ4"}
            """
        let completion = try translator.response(Data(body.utf8), requestedModel: "gemini-2.0-flash")
        let expected = ChatCompletion(
            id: "mS9jaPuLB9-Wz7IPqYSWwQ4", created: 1_750_000_000, model: "gemini-2.0-flash",
            choices: [.init(index: 0, message: .assistant("Paris is the capital."), finishReason: "stop")],
            usage: Usage(promptTokens: 1200, completionTokens: 8, totalTokens: 1208, cachedTokens: 1024))
        #expect(completion == expected)
    }

    @Test("function calls become tool calls with generated ids; thought parts and thinking tokens")
    func functionCalls() throws {
        let body = """
            {"candidates": [{"content": {"role": "model", "parts": [
                {"text": "Planning the lookups", "thought": true},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_time", "args": {}}}
              ]}, "finishReason": "STOP", "index": 0}],
             "usageMetadata": {"promptTokenCount": 90, "candidatesTokenCount": 20, "thoughtsTokenCount": 100,
                               "totalTokenCount": 210}}
            """
        let completion = try translator.response(Data(body.utf8), requestedModel: "gemini-2.5-flash")
        let choice = try #require(completion.choices.first)
        #expect(choice.finishReason == "tool_calls")
        #expect(choice.message.content == nil)
        #expect(
            choice.message.toolCalls == [
                ToolCall(id: "call_0", function: .init(name: "get_weather", arguments: "{\"city\":\"Paris\"}")),
                ToolCall(id: "call_1", function: .init(name: "get_time", arguments: "{}")),
            ])
        #expect(completion.usage == Usage(promptTokens: 90, completionTokens: 120, totalTokens: 210))
        #expect(completion.id == "")
    }

    @Test(
        "finish reasons",
        arguments: [
            ("STOP", "stop"), ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("RECITATION", "content_filter"),
            ("BLOCKLIST", "content_filter"), ("PROHIBITED_CONTENT", "content_filter"), ("SPII", "content_filter"),
            ("IMAGE_SAFETY", "content_filter"), ("IMAGE_PROHIBITED_CONTENT", "content_filter"),
            ("IMAGE_RECITATION", "content_filter"), ("UNEXPECTED_TOOL_CALL", "unexpected_tool_call"),
            ("MALFORMED_FUNCTION_CALL", "malformed_function_call"), ("OTHER", "other"),
        ])
    func finishReasons(reason: String, expected: String) throws {
        let body = """
            {"candidates": [{"content": {"role": "model", "parts": [{"text": "partial"}]}, "finishReason": "\(reason)"}]}
            """
        let completion = try translator.response(Data(body.utf8), requestedModel: "m")
        #expect(completion.choices.first?.finishReason == expected)
        #expect(completion.text == "partial")
        #expect(completion.usage == nil)
    }

    @Test("a prompt blocked by safety is a content-policy error")
    func blockedPrompt() throws {
        let body = """
            {"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
               {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}]},
             "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12}}
            """
        let error = try #require(throws: ProviderError.self) {
            try translator.response(Data(body.utf8), requestedModel: "m")
        }
        #expect(error.errorClass == .contentPolicy)
        #expect(error.vendorCode == "SAFETY")
    }

    @Test("a candidate stopped by safety without content is a content-policy error")
    func blockedCandidate() throws {
        let body = """
            {"candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": [
               {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "HIGH", "blocked": true}]}],
             "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12}}
            """
        let error = try #require(throws: ProviderError.self) {
            try translator.response(Data(body.utf8), requestedModel: "m")
        }
        #expect(error.errorClass == .contentPolicy)
    }

    @Test(
        "malformed bodies are classified errors",
        arguments: [
            "<html>", "{}", "{\"candidates\": []}",
            "{\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {}}]}}]}",
        ])
    func malformed(body: String) throws {
        let error = try #require(throws: ProviderError.self) {
            try translator.response(Data(body.utf8), requestedModel: "m")
        }
        #expect(error.errorClass == .unknown)
        #expect(error.message.contains("Malformed Gemini response"))
    }
}

@Suite("Gemini embeddings")
struct GeminiEmbeddingTests {
    let translator = GeminiTranslator()

    @Test("one input uses embedContent")
    func single() throws {
        let call = try translator.embeddingRequest(
            EmbeddingRequest(model: "embeddings", input: .text("hello world"), dimensions: 256),
            model: "text-embedding-004")
        #expect(call.path == "/v1beta/models/text-embedding-004:embedContent")
        #expect(!call.isBatch)
        #expect(
            try parsedJSON(call.body)
                == parsedJSON(
                    """
                    {"model": "models/text-embedding-004", "content": {"parts": [{"text": "hello world"}]},
                     "outputDimensionality": 256}
                    """))
        let response = try translator.embeddingResponse(
            Data(#"{"embedding": {"values": [0.013, -0.008, 0.25]}}"#.utf8), requestedModel: "text-embedding-004")
        #expect(
            response
                == EmbeddingResponse(
                    data: [.init(index: 0, embedding: [0.013, -0.008, 0.25])], model: "text-embedding-004"))
    }

    @Test("a list uses batchEmbedContents, results in order")
    func batch() throws {
        let call = try translator.embeddingRequest(
            EmbeddingRequest(model: "embeddings", input: .texts(["first", "second"])),
            model: "models/text-embedding-004")
        #expect(call.path == "/v1beta/models/text-embedding-004:batchEmbedContents")
        #expect(call.isBatch)
        #expect(
            try parsedJSON(call.body)
                == parsedJSON(
                    """
                    {"requests": [
                      {"model": "models/text-embedding-004", "content": {"parts": [{"text": "first"}]}},
                      {"model": "models/text-embedding-004", "content": {"parts": [{"text": "second"}]}}
                    ]}
                    """))
        let response = try translator.embeddingResponse(
            Data(#"{"embeddings": [{"values": [1, 0.5]}, {"values": [-1, 2]}]}"#.utf8),
            requestedModel: "text-embedding-004")
        #expect(response.data.map(\.index) == [0, 1])
        #expect(response.data.map(\.embedding) == [[1, 0.5], [-1, 2]])
        #expect(response.usage == nil)
    }

    @Test("token input, empty lists and malformed responses are classified errors")
    func errors() throws {
        let tokens = try #require(throws: ProviderError.self) {
            try translator.embeddingRequest(
                EmbeddingRequest(model: "e", input: .tokens([[1, 2]])), model: "text-embedding-004")
        }
        #expect(tokens.errorClass == .invalidRequest)
        let empty = try #require(throws: ProviderError.self) {
            try translator.embeddingRequest(
                EmbeddingRequest(model: "e", input: .texts([])), model: "text-embedding-004")
        }
        #expect(empty.errorClass == .invalidRequest)
        for body in [#"{"embedding": {}}"#, #"{"values": [1]}"#, #"{"embeddings": [{"values": ["x"]}]}"#] {
            let error = try #require(throws: ProviderError.self) {
                try translator.embeddingResponse(Data(body.utf8), requestedModel: "m")
            }
            #expect(error.errorClass == .unknown)
        }
    }
}

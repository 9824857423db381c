import Foundation
import ModelMesh
import ModelMeshProviders
import ModelMeshTesting
import Testing

extension Harness {
    /// A Gemini provider pointing at the fake (the fake's root is the API host).
    func gemini(
        apiKey: String? = Harness.apiKey, baseURL: String? = nil, timeout: Duration = .seconds(5),
        streamIdleTimeout: Duration? = nil, settings: [String: JSONValue] = [:]
    ) throws -> GeminiProvider {
        try GeminiProvider(
            configuration: ProviderConfiguration(
                id: "google", connector: "google.gemini.v1", baseURL: baseURL ?? fake.baseURL,
                apiKey: apiKey.map(Secret.init), timeout: timeout, settings: settings),
            transport: transport, streamIdleTimeout: streamIdleTimeout)
    }

    static let flash = ModelTarget(
        modelID: "google.gemini-2.0-flash", wireName: "gemini-2.0-flash", providerID: "google")
}

@Suite("Gemini provider over loopback HTTP")
struct GeminiProviderTests {
    static let generate = "/v1beta/models/gemini-2.0-flash:generateContent"
    static let streamGenerate = "/v1beta/models/gemini-2.0-flash:streamGenerateContent"

    // MARK: Answers

    @Test("A plain answer: path, key in the query, translated body with safety settings, usage")
    func plainAnswer() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.geminiResponse(text: "Hi there", promptTokens: 9, candidatesTokens: 3), for: Self.generate)
            let safety: JSONValue = [["category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"]]
            let provider = try h.gemini(settings: ["safety_settings": safety])
            var request = ChatCompletionRequest(model: "chat", messages: [.system("Be brief."), .user("Hello")])
            request.temperature = 0.2

            let answer = try await provider.complete(request, target: Harness.flash, context: Harness.context())

            #expect(answer.completion.text == "Hi there")
            #expect(answer.completion.choices.first?.finishReason == "stop")
            #expect(answer.completion.usage == Usage(promptTokens: 9, completionTokens: 3))
            let recorded = try #require(h.fake.lastRequest)
            #expect(recorded.method == "POST")
            #expect(recorded.path == Self.generate)
            #expect(recorded.query == "key=\(Harness.apiKey)")
            #expect(recorded.header("content-type") == "application/json")
            #expect(recorded.header("authorization") == nil)
            let expected: JSONValue = [
                "contents": [["role": "user", "parts": [["text": "Hello"]]]],
                "systemInstruction": ["parts": [["text": "Be brief."]]],
                "generationConfig": ["temperature": 0.2],
                "safetySettings": safety,
            ]
            #expect(recorded.json == expected)
        }
    }

    @Test("Setup: base URL with /v1beta is not doubled; bad settings are refused; defaults")
    func setup() async throws {
        let transport = HTTPTransport()
        defer { Task { try await transport.shutdown() } }
        let trimmed = try GeminiProvider(
            configuration: ProviderConfiguration(
                id: "g", connector: "google.gemini.v1", baseURL: "https://gateway.example.com/gemini/v1beta/"),
            transport: transport)
        #expect(trimmed.baseURL == "https://gateway.example.com/gemini")
        let defaulted = try GeminiProvider(
            configuration: ProviderConfiguration(id: "g", connector: "google.gemini.v1"), transport: transport)
        #expect(defaulted.baseURL == "https://generativelanguage.googleapis.com")
        #expect(defaulted.timeout == .seconds(60))
        #expect(throws: ProviderSetupError.self) {
            try GeminiProvider(
                configuration: ProviderConfiguration(
                    id: "g", connector: "google.gemini.v1", settings: ["safety_settings": "BLOCK_NONE"]),
                transport: transport)
        }
    }

    @Test("A streamed answer: alt=sse, chunks in order, finish and usage")
    func streamedAnswer() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .geminiStream(pieces: ["Hel", "lo", " world"], promptTokens: 7, candidatesTokens: 3),
                for: Self.streamGenerate)
            let (chunks, error) = await drain(
                try await h.gemini().stream(Harness.request(), target: Harness.flash, context: Harness.context()))
            #expect(error == nil)
            #expect(chunks.first?.choices.first?.delta.role == "assistant")
            #expect(text(of: chunks) == "Hello world")
            #expect(chunks.compactMap { $0.choices.first?.finishReason } == ["stop"])
            #expect(chunks.last?.usage == Usage(promptTokens: 7, completionTokens: 3))
            let recorded = try #require(h.fake.lastRequest)
            #expect(recorded.path == Self.streamGenerate)
            #expect(recorded.query == "alt=sse&key=\(Harness.apiKey)")
            #expect(recorded.header("accept") == "text/event-stream")
            #expect(recorded.json?["contents"] == [["role": "user", "parts": [["text": "Hello"]]]])
        }
    }

    @Test("A stream without a finishReason is interrupted, whether it closes cleanly or is cut")
    func truncatedStreams() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.geminiStream(pieces: ["part", "ial"], finishReason: nil), for: Self.streamGenerate)
            h.fake.enqueue(
                .sse(
                    FakeStreamEvent.geminiEvents(pieces: ["cut"], finishReason: nil)
                        + [.comment("keep-alive", delay: .milliseconds(100))], ending: .cut), for: Self.streamGenerate)
            let provider = try h.gemini()
            let clean = await drain(
                try await provider.stream(Harness.request(), target: Harness.flash, context: Harness.context()))
            #expect(text(of: clean.chunks) == "partial")
            #expect((clean.error as? ProviderError)?.errorClass == .streamInterrupted)
            let cut = await drain(
                try await provider.stream(Harness.request(), target: Harness.flash, context: Harness.context()))
            #expect(text(of: cut.chunks) == "cut")
            #expect((cut.error as? ProviderError)?.errorClass == .streamInterrupted)
        }
    }

    // MARK: Tools

    @Test("Tools round trip: functionDeclarations and functionCall/functionResponse out; functionCall back")
    func toolsRoundTrip() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .geminiResponse(
                    text: nil, functionCalls: [FakeToolUse(name: "get_weather", input: ["city": "Bergen"])]),
                for: Self.generate)
            h.fake.enqueue(
                .geminiStream(
                    pieces: [], functionCalls: [FakeToolUse(id: "fc_1", name: "get_weather", input: ["city": "Oslo"])]),
                for: Self.streamGenerate)
            var request = ChatCompletionRequest(
                model: "chat",
                messages: [
                    .user("Weather in Oslo, then Bergen?"),
                    ChatMessage(
                        role: "assistant", content: nil,
                        toolCalls: [
                            ToolCall(id: "call_0", function: .init(name: "get_weather", arguments: #"{"city":"Oslo"}"#))
                        ]),
                    ChatMessage(role: "tool", content: .text("12°C"), toolCallID: "call_0"),
                ])
            request.tools = [
                Tool(
                    function: .init(
                        name: "get_weather", description: "Weather",
                        parameters: [
                            "type": "object", "properties": ["city": ["type": "string"]], "additionalProperties": false,
                        ]))
            ]
            let provider = try h.gemini()
            let answer = try await provider.complete(request, target: Harness.flash, context: Harness.context())
            let choice = try #require(answer.completion.choices.first)
            #expect(choice.finishReason == "tool_calls")
            #expect(choice.message.toolCalls?.first?.function.name == "get_weather")
            #expect(choice.message.toolCalls?.first?.function.arguments == #"{"city":"Bergen"}"#)
            let body = try #require(h.fake.requests(to: Self.generate).last?.json)
            #expect(
                body["tools"] == [
                    [
                        "functionDeclarations": [
                            [
                                "name": "get_weather", "description": "Weather",
                                "parameters": ["type": "object", "properties": ["city": ["type": "string"]]],
                            ]
                        ]
                    ]
                ])
            #expect(
                body["contents"] == [
                    ["role": "user", "parts": [["text": "Weather in Oslo, then Bergen?"]]],
                    ["role": "model", "parts": [["functionCall": ["name": "get_weather", "args": ["city": "Oslo"]]]]],
                    [
                        "role": "user",
                        "parts": [["functionResponse": ["name": "get_weather", "response": ["content": "12°C"]]]],
                    ],
                ])

            let (chunks, error) = await drain(
                try await provider.stream(request, target: Harness.flash, context: Harness.context()))
            #expect(error == nil)
            let calls = chunks.flatMap { $0.choices.first?.delta.toolCalls ?? [] }
            #expect(calls.map(\.id) == ["fc_1"])
            #expect(calls.first?.function.arguments == #"{"city":"Oslo"}"#)
            #expect(chunks.compactMap { $0.choices.first?.finishReason } == ["tool_calls"])
        }
    }

    // MARK: Errors

    static let errorCases: [(Int, String, String, ProviderErrorClass)] = [
        (400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unknown name \"foo\"", .invalidRequest),
        (
            400, "INVALID_ARGUMENT",
            "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).", .contextLength
        ),
        (403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers.", .authentication),
        (404, "NOT_FOUND", "models/gemini-nope is not found for API version v1beta", .modelNotFound),
        (500, "INTERNAL", "An internal error has occurred.", .serverError),
        (503, "UNAVAILABLE", "The model is overloaded. Please try again later.", .serverError),
    ]

    @Test("Vendor error bodies are classified, for answers and streams", arguments: errorCases)
    func errorClasses(_ status: Int, _ statusText: String, _ message: String, _ expected: ProviderErrorClass)
        async throws
    {
        try await Harness.run { h in
            h.fake.enqueue(.geminiError(status: status, message: message, statusText: statusText), for: Self.generate)
            h.fake.enqueue(
                .geminiError(status: status, message: message, statusText: statusText), for: Self.streamGenerate)
            let provider = try h.gemini()
            let complete = await #expect(throws: ProviderError.self) {
                try await provider.complete(Harness.request(), target: Harness.flash, context: Harness.context())
            }
            #expect(complete?.errorClass == expected)
            #expect(complete?.status == status)
            #expect(complete?.vendorCode == statusText)
            let stream = await #expect(throws: ProviderError.self) {
                try await provider.stream(Harness.request(), target: Harness.flash, context: Harness.context())
            }
            #expect(stream?.errorClass == expected)
        }
    }

    @Test("An invalid key (400 API_KEY_INVALID) is an authentication failure")
    func invalidKey() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.geminiInvalidKey, for: Self.generate)
            let error = await #expect(throws: ProviderError.self) {
                try await h.gemini().complete(Harness.request(), target: Harness.flash, context: Harness.context())
            }
            #expect(error?.errorClass == .authentication)
            #expect(error?.status == 400)
        }
    }

    @Test("A 429 with RetryInfo is a rate limit carrying the delay; a Retry-After header wins")
    func rateLimited() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.geminiRateLimited(retryDelay: "13s"), for: Self.generate)
            h.fake.enqueue(.geminiRateLimited(retryDelay: "13s", headers: [("retry-after", "2")]), for: Self.generate)
            let provider = try h.gemini()
            let first = await #expect(throws: ProviderError.self) {
                try await provider.complete(Harness.request(), target: Harness.flash, context: Harness.context())
            }
            #expect(first?.errorClass == .rateLimited)
            #expect(first?.retryAfter == .seconds(13))
            let second = await #expect(throws: ProviderError.self) {
                try await provider.complete(Harness.request(), target: Harness.flash, context: Harness.context())
            }
            #expect(second?.retryAfter == .seconds(2))
        }
    }

    @Test("A blocked prompt is a content-policy error, for answers and streams")
    func safetyBlock() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.geminiBlockedPrompt(), for: Self.generate)
            h.fake.enqueue(
                .sse([.geminiData(["promptFeedback": ["blockReason": "SAFETY"]])]), for: Self.streamGenerate)
            h.fake.enqueue(
                .sse([.geminiChunk(text: nil, finishReason: "SAFETY")]), for: Self.streamGenerate)
            let provider = try h.gemini()
            let complete = await #expect(throws: ProviderError.self) {
                try await provider.complete(Harness.request(), target: Harness.flash, context: Harness.context())
            }
            #expect(complete?.errorClass == .contentPolicy)
            #expect(complete?.vendorCode == "SAFETY")
            for _ in 0..<2 {
                let (chunks, error) = await drain(
                    try await provider.stream(Harness.request(), target: Harness.flash, context: Harness.context()))
                #expect(text(of: chunks).isEmpty)
                #expect((error as? ProviderError)?.errorClass == .contentPolicy)
            }
        }
    }

    @Test(
        "Every policy finish reason before any content is a content-policy error naming it, for answers and streams",
        arguments: [
            "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
            "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION",
        ])
    func policyFinishReasons(reason: String) async throws {
        try await Harness.run { h in
            h.fake.enqueue(.geminiResponse(text: nil, finishReason: reason, candidatesTokens: 0), for: Self.generate)
            h.fake.enqueue(.sse([.geminiChunk(text: nil, finishReason: reason)]), for: Self.streamGenerate)
            let provider = try h.gemini()
            let complete = await #expect(throws: ProviderError.self) {
                try await provider.complete(Harness.request(), target: Harness.flash, context: Harness.context())
            }
            #expect(complete?.errorClass == .contentPolicy)
            #expect(complete?.vendorCode == reason)
            #expect(complete?.message.contains(reason) == true)
            // The block came in a 200 answer; that status must not travel with the refusal.
            #expect(complete?.status == nil)
            let (chunks, error) = await drain(
                try await provider.stream(Harness.request(), target: Harness.flash, context: Harness.context()))
            #expect(chunks.isEmpty)
            let streamed = try #require(error as? ProviderError)
            #expect(streamed.errorClass == .contentPolicy)
            #expect(streamed.message.contains(reason))
            #expect(streamed.status == nil)
        }
    }

    @Test("A blocked prompt names its reason and carries no HTTP status")
    func blockedPromptMessage() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.geminiBlockedPrompt(reason: "PROHIBITED_CONTENT"), for: Self.generate)
            let error = await #expect(throws: ProviderError.self) {
                try await h.gemini().complete(Harness.request(), target: Harness.flash, context: Harness.context())
            }
            #expect(error?.errorClass == .contentPolicy)
            #expect(error?.message.contains("PROHIBITED_CONTENT") == true)
            #expect(error?.status == nil)
        }
    }

    @Test("The key never appears in errors: echoed bodies, connection failures, descriptions")
    func keyNeverLeaks() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .geminiError(
                    status: 400, message: "API key not valid: \(Harness.apiKey)", statusText: "INVALID_ARGUMENT"),
                for: Self.generate)
            let provider = try h.gemini()
            let echoed = await #expect(throws: ProviderError.self) {
                try await provider.complete(Harness.request(), target: Harness.flash, context: Harness.context())
            }
            #expect(echoed?.errorClass == .authentication)
            #expect(echoed.map { "\($0)" }?.contains(Harness.apiKey) == false)

            // A refused connection: AsyncHTTPClient's errors may carry the URL, key and all.
            let refusing = try RefusingPort()
            defer { refusing.close() }
            let unreachable = try h.gemini(baseURL: refusing.baseURL, timeout: .seconds(2))
            let refused = await #expect(throws: ProviderError.self) {
                try await unreachable.complete(Harness.request(), target: Harness.flash, context: Harness.context())
            }
            #expect(refused?.errorClass == .connection)
            #expect(refused.map { "\($0)" }?.contains(Harness.apiKey) == false)
            let streamRefused = await #expect(throws: ProviderError.self) {
                try await unreachable.stream(Harness.request(), target: Harness.flash, context: Harness.context())
            }
            #expect(streamRefused.map { "\($0)" }?.contains(Harness.apiKey) == false)
            #expect(!String(describing: provider).contains(Harness.apiKey))
            #expect(!String(reflecting: provider).contains(Harness.apiKey))
        }
    }

    // MARK: Time and cancellation

    @Test("Silence, a slow head and a mid-stream stall are cut by their deadlines")
    func deadlines() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.silence, for: Self.generate)
            h.fake.enqueue(.geminiResponse().delayingHead(by: .seconds(10)), for: Self.generate)
            h.fake.enqueue(
                .geminiStream(pieces: ["a", "b"], finishReason: nil, ending: .stall), for: Self.streamGenerate)
            // Generous for a deadline test: on a loaded machine connecting can take a few 100ms.
            let provider = try h.gemini(timeout: .milliseconds(700))
            let started = ContinuousClock.now
            for _ in 0..<2 {
                let error = await #expect(throws: ProviderError.self) {
                    try await provider.complete(Harness.request(), target: Harness.flash, context: Harness.context())
                }
                #expect(error?.errorClass == .timeout)
            }
            // The stream must get its head and first events in time, so it gets more slack.
            let streaming = try h.gemini(timeout: .seconds(3), streamIdleTimeout: .seconds(1))
            let stream = try await streaming.stream(
                Harness.request(), target: Harness.flash, context: Harness.context())
            let (chunks, error) = try await withTimeLimit { await drain(stream) }
            #expect(text(of: chunks) == "ab")
            #expect((error as? ProviderError)?.errorClass == .timeout)
            // Two 0.7 s deadlines and a 1 s stall, well under the 10 s head: loose for a loaded machine.
            #expect(ContinuousClock.now - started < .seconds(8))
            // Every request that reached the fake had its connection closed by the client.
            try await withTimeLimit { await h.fake.wait { $0.requests >= 1 && $0.abortedResponses >= $0.requests } }
        }
    }

    @Test("A consumer that cancels closes the upstream connection")
    func cancellation() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .geminiStream(pieces: ["first"], finishReason: nil, ending: .stall), for: Self.streamGenerate)
            let stream = try await h.gemini(streamIdleTimeout: .seconds(30)).stream(
                Harness.request(), target: Harness.flash, context: Harness.context())
            let (firstText, signal) = AsyncStream<Void>.makeStream()
            let consumer = Task {
                for try await chunk in stream.chunks where chunk.choices.first?.delta.content == "first" {
                    signal.yield()
                }
            }
            for await _ in firstText { break }
            #expect(h.fake.activity.abortedResponses == 0)
            consumer.cancel()
            try await withTimeLimit { await h.fake.waitForAbortedResponses(1) }
            _ = await consumer.result
        }
    }

    // MARK: Embeddings, models, health

    @Test("Embeddings: one text through embedContent, a list through batchEmbedContents")
    func embeddings() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.geminiEmbedding([0.1, 0.2]), for: "/v1beta/models/text-embedding-004:embedContent")
            h.fake.enqueue(
                .geminiBatchEmbeddings([[1, 2], [3, 4]]), for: "/v1beta/models/text-embedding-004:batchEmbedContents")
            let provider = try h.gemini()
            let target = ModelTarget(
                modelID: "google.text-embedding-004", wireName: "text-embedding-004", providerID: "google")
            let single = try await provider.embed(
                EmbeddingRequest(model: "e", input: .text("hello"), dimensions: 2), target: target,
                context: Harness.context())
            #expect(single.response.data.map(\.embedding) == [[0.1, 0.2]])
            let batch = try await provider.embed(
                EmbeddingRequest(model: "e", input: .texts(["a", "b"])), target: target, context: Harness.context())
            #expect(batch.response.data.map(\.embedding) == [[1, 2], [3, 4]])
            #expect(batch.response.data.map(\.index) == [0, 1])

            let first = try #require(h.fake.requests.first)
            #expect(first.query == "key=\(Harness.apiKey)")
            #expect(
                first.json == [
                    "model": "models/text-embedding-004", "content": ["parts": [["text": "hello"]]],
                    "outputDimensionality": 2,
                ])
            #expect(h.fake.requests.last?.json?["requests"]?.arrayValue?.count == 2)
        }
    }

    @Test("listModels reads every page; healthCheck reports a bad key")
    func modelsAndHealth() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                [
                    .geminiModelList([("gemini-2.0-flash", 1_048_576)], nextPageToken: "page 2"),
                    .geminiModelList([("text-embedding-004", 2048)]),
                    .geminiModelList([("gemini-2.0-flash", 1_048_576)]),
                    .geminiInvalidKey,
                ], for: "/v1beta/models")
            let provider = try h.gemini()
            let models = try await provider.listModels()
            #expect(models.map(\.id) == ["gemini-2.0-flash", "text-embedding-004"])
            #expect(models.map(\.contextWindow) == [1_048_576, 2048])
            #expect(
                h.fake.requests.map(\.query) == [
                    "pageSize=1000&key=\(Harness.apiKey)", "pageSize=1000&pageToken=page%202&key=\(Harness.apiKey)",
                ])
            try await provider.healthCheck()
            #expect(h.fake.lastRequest?.query == "pageSize=1&key=\(Harness.apiKey)")
            let failed = await #expect(throws: ProviderError.self) { try await provider.healthCheck() }
            #expect(failed?.errorClass == .authentication)
            #expect(failed.map { "\($0)" }?.contains(Harness.apiKey) == false)
        }
    }
}

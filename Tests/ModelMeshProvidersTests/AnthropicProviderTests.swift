import Foundation
import ModelMesh
import ModelMeshProviders
import ModelMeshTesting
import Testing

extension Harness {
    /// An Anthropic provider pointing at the fake (the fake's root is the API host).
    func anthropic(
        apiKey: String? = Harness.apiKey, baseURL: String? = nil, timeout: Duration = .seconds(5),
        streamIdleTimeout: Duration? = nil, settings: [String: JSONValue] = [:]
    ) throws -> AnthropicProvider {
        try AnthropicProvider(
            configuration: ProviderConfiguration(
                id: "anthropic", connector: "anthropic.claude.v1", baseURL: baseURL ?? fake.baseURL,
                apiKey: apiKey.map(Secret.init), timeout: timeout, settings: settings),
            transport: transport, streamIdleTimeout: streamIdleTimeout)
    }

    static let claude = ModelTarget(
        modelID: "anthropic.claude-sonnet-4-20250514", wireName: "claude-sonnet-4-20250514", providerID: "anthropic")
}

@Suite("Anthropic provider over loopback HTTP")
struct AnthropicProviderTests {
    static let messages = "/v1/messages"

    // MARK: Answers

    @Test("A plain answer: path, headers, translated body, text, stop reason, usage, rate limits")
    func plainAnswer() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .anthropicMessage(
                    text: "Hi there", inputTokens: 12, outputTokens: 4,
                    headers: [
                        ("anthropic-ratelimit-requests-limit", "50"), ("anthropic-ratelimit-requests-remaining", "49"),
                        ("anthropic-ratelimit-tokens-limit", "40000"),
                        ("anthropic-ratelimit-tokens-remaining", "39000"),
                    ]), for: Self.messages)
            let provider = try h.anthropic(settings: ["max_tokens": 1024])
            var request = ChatCompletionRequest(
                model: "chat", messages: [ChatMessage(role: "system", content: .text("Be brief.")), .user("Hello")])
            request.temperature = 0.2
            request.extra["seed"] = 7  // OpenAI-only: must not reach Anthropic

            let answer = try await provider.complete(request, target: Harness.claude, context: Harness.context())

            #expect(answer.completion.text == "Hi there")
            #expect(answer.completion.choices.first?.finishReason == "stop")
            #expect(answer.completion.usage == Usage(promptTokens: 12, completionTokens: 4))
            #expect(answer.rateLimit?.limitRequests == 50)
            #expect(answer.rateLimit?.remainingRequests == 49)
            #expect(answer.rateLimit?.remainingTokens == 39000)
            let recorded = try #require(h.fake.lastRequest)
            #expect(recorded.method == "POST")
            #expect(recorded.uri == "/v1/messages")
            #expect(recorded.header("x-api-key") == Harness.apiKey)
            #expect(recorded.header("anthropic-version") == "2023-06-01")
            #expect(recorded.header("content-type") == "application/json")
            #expect(recorded.header("accept") == "application/json")
            #expect(recorded.header("authorization") == nil)
            let expected: JSONValue = [
                "model": "claude-sonnet-4-20250514", "max_tokens": 1024, "system": "Be brief.",
                "messages": [["role": "user", "content": "Hello"]], "temperature": 0.2,
            ]
            #expect(recorded.json == expected)
        }
    }

    @Test("Settings: anthropic_version, anthropic_beta, default max_tokens; a /v1 base URL is not doubled")
    func settings() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.anthropicMessage(), for: Self.messages)
            let provider = try h.anthropic(
                baseURL: h.fake.url("/v1/"),
                settings: ["anthropic_version": "2024-01-01", "anthropic_beta": ["a-1", "b-2"]])
            #expect(provider.baseURL == h.fake.baseURL)
            #expect(provider.defaultMaxTokens == 4096)
            _ = try await provider.complete(Harness.request(), target: Harness.claude, context: Harness.context())
            let recorded = try #require(h.fake.lastRequest)
            #expect(recorded.path == "/v1/messages")
            #expect(recorded.header("anthropic-version") == "2024-01-01")
            #expect(recorded.header("anthropic-beta") == "a-1,b-2")
            #expect(recorded.json?["max_tokens"] == 4096)
        }
        let transport = HTTPTransport()
        defer { Task { try await transport.shutdown() } }
        #expect(throws: ProviderSetupError.self) {
            try AnthropicProvider(
                configuration: ProviderConfiguration(
                    id: "a", connector: "anthropic.claude.v1", baseURL: "api.anthropic.com"),
                transport: transport)
        }
        #expect(throws: ProviderSetupError.self) {
            try AnthropicProvider(
                configuration: ProviderConfiguration(
                    id: "a", connector: "anthropic.claude.v1", settings: ["max_tokens": "lots"]),
                transport: transport)
        }
        let defaulted = try AnthropicProvider(
            configuration: ProviderConfiguration(id: "a", connector: "anthropic.claude.v1"), transport: transport)
        #expect(defaulted.messagesURL == "https://api.anthropic.com/v1/messages")
    }

    @Test("A prefilled assistant turn loses its trailing whitespace (Anthropic rejects it)")
    func prefillTrimmed() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.anthropicMessage(text: " world"), for: Self.messages)
            let request = ChatCompletionRequest(
                model: "chat", messages: [.user("Say hello world"), .assistant("Hello, ")])
            _ = try await h.anthropic().complete(request, target: Harness.claude, context: Harness.context())
            let messages = try #require(h.fake.lastRequest?.json?["messages"])
            #expect(
                messages == [
                    ["role": "user", "content": "Say hello world"], ["role": "assistant", "content": "Hello,"],
                ])
        }
    }

    @Test("A streamed answer: role, text deltas, finish, usage; ends on message_stop")
    func streamedAnswer() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .anthropicStream(pieces: ["Hel", "lo", " world"], inputTokens: 21, outputTokens: 3), for: Self.messages)
            let stream = try await h.anthropic().stream(
                Harness.request(), target: Harness.claude, context: Harness.context())
            let (chunks, error) = await drain(stream)

            #expect(error == nil)
            #expect(chunks.first?.choices.first?.delta.role == "assistant")
            #expect(text(of: chunks) == "Hello world")
            #expect(chunks.compactMap { $0.choices.first?.finishReason } == ["stop"])
            #expect(chunks.last?.choices.isEmpty == true)
            #expect(chunks.last?.usage == Usage(promptTokens: 21, completionTokens: 3))
            #expect(chunks.allSatisfy { $0.id == "msg_fake" })
            let recorded = try #require(h.fake.lastRequest)
            #expect(recorded.header("accept") == "text/event-stream")
            #expect(recorded.json?["stream"] == true)
            #expect(recorded.json?["model"] == "claude-sonnet-4-20250514")
        }
    }

    @Test("A stream that ends before message_stop is interrupted, cleanly closed or cut")
    func truncatedStreams() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.anthropicStream(pieces: ["part", "ial"], complete: false), for: Self.messages)
            h.fake.enqueue(
                .sse(
                    FakeStreamEvent.anthropicEvents(pieces: ["cut"], complete: false)
                        + [.anthropicPing(delay: .milliseconds(100))], ending: .cut), for: Self.messages)
            let provider = try h.anthropic()
            let clean = await drain(
                try await provider.stream(Harness.request(), target: Harness.claude, context: Harness.context()))
            #expect(text(of: clean.chunks) == "partial")
            #expect((clean.error as? ProviderError)?.errorClass == .streamInterrupted)
            #expect(clean.chunks.allSatisfy { $0.choices.first?.finishReason == nil })

            let cut = await drain(
                try await provider.stream(Harness.request(), target: Harness.claude, context: Harness.context()))
            #expect(text(of: cut.chunks) == "cut")
            #expect((cut.error as? ProviderError)?.errorClass == .streamInterrupted)
        }
    }

    @Test("A clean end after message_delta's stop_reason, without message_stop, completes the stream with usage")
    func cleanEndAfterStopReason() async throws {
        try await Harness.run { h in
            let events = FakeStreamEvent.anthropicEvents(pieces: ["all", " there"], inputTokens: 14, outputTokens: 6)
            // Everything but message_stop: the body then ends cleanly.
            h.fake.enqueue(.sse(Array(events.dropLast()), ending: .finish), for: Self.messages)
            h.fake.enqueue(
                .sse(Array(events.dropLast()) + [.anthropicPing(delay: .milliseconds(100))], ending: .cut),
                for: Self.messages)
            let provider = try h.anthropic(timeout: .seconds(30))
            let started = ContinuousClock.now
            let clean = await drain(
                try await provider.stream(Harness.request(), target: Harness.claude, context: Harness.context()))
            #expect(clean.error == nil)
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(text(of: clean.chunks) == "all there")
            #expect(clean.chunks.compactMap { $0.choices.first?.finishReason } == ["stop"])
            #expect(clean.chunks.last?.choices.isEmpty == true)
            #expect(clean.chunks.last?.usage == Usage(promptTokens: 14, completionTokens: 6))

            // The same events on a connection that breaks are not a complete answer.
            let cut = await drain(
                try await provider.stream(Harness.request(), target: Harness.claude, context: Harness.context()))
            #expect(text(of: cut.chunks) == "all there")
            #expect((cut.error as? ProviderError)?.errorClass == .streamInterrupted)
        }
    }

    @Test("An in-band overloaded_error event fails the stream as a server error; pings and unknown events are skipped")
    func inBandError() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .sse(
                    [
                        .anthropicMessageStart(), .anthropicPing(), .anthropic("future_event", ["x": 1]),
                        .anthropicTextBlockStart(), .anthropicTextDelta("so far"), .anthropicError(),
                    ], ending: .finish), for: Self.messages)
            let provider = try h.anthropic()
            let (chunks, error) = await drain(
                try await provider.stream(Harness.request(), target: Harness.claude, context: Harness.context()))
            #expect(text(of: chunks) == "so far")
            let failure = try #require(error as? ProviderError)
            #expect(failure.errorClass == .serverError)
            #expect(failure.vendorCode == "overloaded_error")
            #expect(provider.invalidStreamEventCount == 0)
        }
    }

    // MARK: Tools

    @Test("Tools round trip: tool definitions, tool_use and tool_result out; tool_use back as tool_calls")
    func toolsRoundTrip() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .anthropicMessage(
                    text: "Checking.",
                    toolUses: [FakeToolUse(id: "toolu_2", name: "get_weather", input: ["city": "Bergen"])]),
                for: Self.messages)
            let weather = Tool(
                function: .init(
                    name: "get_weather", description: "Weather for a city",
                    parameters: ["type": "object", "properties": ["city": ["type": "string"]], "required": ["city"]]))
            var request = ChatCompletionRequest(
                model: "chat",
                messages: [
                    .user("Weather in Oslo, then Bergen?"),
                    ChatMessage(
                        role: "assistant", content: nil,
                        toolCalls: [
                            ToolCall(
                                id: "toolu_1", function: .init(name: "get_weather", arguments: #"{"city":"Oslo"}"#))
                        ]),
                    ChatMessage(role: "tool", content: .text("12°C"), toolCallID: "toolu_1"),
                ])
            request.tools = [weather]
            request.toolChoice = "required"

            let answer = try await h.anthropic().complete(request, target: Harness.claude, context: Harness.context())

            let choice = try #require(answer.completion.choices.first)
            #expect(choice.finishReason == "tool_calls")
            #expect(choice.message.content?.text == "Checking.")
            let call = try #require(choice.message.toolCalls?.first)
            #expect(call.id == "toolu_2")
            #expect(call.function.name == "get_weather")
            #expect(call.function.arguments == #"{"city":"Bergen"}"#)

            let body = try #require(h.fake.lastRequest?.json)
            #expect(
                body["tools"] == [
                    [
                        "name": "get_weather", "description": "Weather for a city",
                        "input_schema": [
                            "type": "object", "properties": ["city": ["type": "string"]], "required": ["city"],
                        ],
                    ]
                ])
            #expect(body["tool_choice"] == ["type": "any"])
            #expect(
                body["messages"] == [
                    ["role": "user", "content": "Weather in Oslo, then Bergen?"],
                    [
                        "role": "assistant",
                        "content": [
                            ["type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": ["city": "Oslo"]]
                        ],
                    ],
                    [
                        "role": "user",
                        "content": [["type": "tool_result", "tool_use_id": "toolu_1", "content": "12°C"]],
                    ],
                ])
        }
    }

    @Test("A streamed tool_use becomes tool_calls deltas whose arguments join to the input")
    func streamedToolUse() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .anthropicStream(
                    pieces: [], toolUses: [FakeToolUse(id: "toolu_9", name: "lookup", input: ["q": "swift", "n": 3])]),
                for: Self.messages)
            let (chunks, error) = await drain(
                try await h.anthropic().stream(Harness.request(), target: Harness.claude, context: Harness.context()))
            #expect(error == nil)
            let calls = chunks.flatMap { $0.choices.first?.delta.toolCalls ?? [] }
            #expect(calls.first?.id == "toolu_9")
            #expect(calls.first?.function.name == "lookup")
            #expect(calls.allSatisfy { $0.index == 0 })
            #expect(calls.compactMap(\.function.arguments).joined() == #"{"n":3,"q":"swift"}"#)
            #expect(chunks.compactMap { $0.choices.first?.finishReason } == ["tool_calls"])
        }
    }

    // MARK: Errors

    static let errorCases: [(Int, String, String, ProviderErrorClass)] = [
        (400, "invalid_request_error", "messages: roles must alternate", .invalidRequest),
        (400, "invalid_request_error", "prompt is too long: 215000 tokens > 200000 maximum", .contextLength),
        (401, "authentication_error", "invalid x-api-key", .authentication),
        (
            403, "permission_error", "Your API key does not have permission to use the specified resource.",
            .authentication
        ),
        (404, "not_found_error", "model: claude-nope", .modelNotFound),
        (413, "request_too_large", "Request exceeds the maximum allowed number of bytes.", .contextLength),
        (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", .rateLimited),
        (500, "api_error", "An unexpected error has occurred internal to Anthropic's systems.", .serverError),
        (529, "overloaded_error", "Overloaded", .serverError),
    ]

    @Test("Vendor error bodies are classified, for complete answers and streams", arguments: errorCases)
    func errorClasses(_ status: Int, _ type: String, _ message: String, _ expected: ProviderErrorClass) async throws {
        try await Harness.run { h in
            h.fake.enqueue(.anthropicError(status: status, type: type, message: message), for: Self.messages)
            h.fake.enqueue(.anthropicError(status: status, type: type, message: message), for: Self.messages)
            let provider = try h.anthropic()
            let complete = await #expect(throws: ProviderError.self) {
                try await provider.complete(Harness.request(), target: Harness.claude, context: Harness.context())
            }
            #expect(complete?.errorClass == expected)
            #expect(complete?.status == status)
            #expect(complete?.vendorCode == type)
            #expect(complete?.message.contains(message) == true)
            let stream = await #expect(throws: ProviderError.self) {
                try await provider.stream(Harness.request(), target: Harness.claude, context: Harness.context())
            }
            #expect(stream?.errorClass == expected)
            #expect(h.fake.requests.count == 2)
        }
    }

    @Test("A 429 carries retry-after and the exhausted rate-limit window; retry-after-ms is preferred")
    func rateLimitHeaders() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.anthropicRateLimited(retryAfter: "7"), for: Self.messages)
            h.fake.enqueue(
                .anthropicRateLimited(retryAfter: "7", headers: [("retry-after-ms", "250")]), for: Self.messages)
            let provider = try h.anthropic()
            let first = await #expect(throws: ProviderError.self) {
                try await provider.complete(Harness.request(), target: Harness.claude, context: Harness.context())
            }
            #expect(first?.errorClass == .rateLimited)
            #expect(first?.retryAfter == .seconds(7))
            #expect(first?.rateLimit?.limitRequests == 50)
            #expect(first?.rateLimit?.remainingRequests == 0)
            let second = await #expect(throws: ProviderError.self) {
                try await provider.complete(Harness.request(), target: Harness.claude, context: Harness.context())
            }
            #expect(second?.retryAfter == .milliseconds(250))
        }
    }

    @Test("A non-Anthropic error page is classified by status")
    func htmlErrorPage() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.text("<html>Bad gateway</html>", status: 502, contentType: "text/html"), for: Self.messages)
            let error = await #expect(throws: ProviderError.self) {
                try await h.anthropic().complete(Harness.request(), target: Harness.claude, context: Harness.context())
            }
            #expect(error?.errorClass == .serverError)
            #expect(error?.status == 502)
        }
    }

    // MARK: Time and cancellation

    @Test("A silent upstream is cut by the provider timeout")
    func silence() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.silence, for: Self.messages)
            let provider = try h.anthropic(timeout: .milliseconds(600))
            let started = ContinuousClock.now
            let error = await #expect(throws: ProviderError.self) {
                try await provider.complete(Harness.request(), target: Harness.claude, context: Harness.context())
            }
            #expect(error?.errorClass == .timeout)
            #expect(ContinuousClock.now - started < .seconds(6))
            try await withTimeLimit { await h.fake.wait { $0.abortedResponses >= $0.requests } }
        }
    }

    @Test("A slow response head is cut by the timeout, for answers and streams")
    func slowHead() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.anthropicMessage().delayingHead(by: .seconds(10)), for: Self.messages)
            h.fake.enqueue(.anthropicStream(pieces: ["x"]).delayingHead(by: .seconds(10)), for: Self.messages)
            let provider = try h.anthropic(timeout: .milliseconds(600))
            let started = ContinuousClock.now
            let complete = await #expect(throws: ProviderError.self) {
                try await provider.complete(Harness.request(), target: Harness.claude, context: Harness.context())
            }
            let stream = await #expect(throws: ProviderError.self) {
                try await provider.stream(Harness.request(), target: Harness.claude, context: Harness.context())
            }
            #expect(complete?.errorClass == .timeout)
            #expect(stream?.errorClass == .timeout)
            #expect(ContinuousClock.now - started < .seconds(8))  // two 0.6 s deadlines, not the 10 s heads
        }
    }

    @Test("A stall mid-stream fails with a timeout after the text that arrived")
    func stallMidStream() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.anthropicStream(pieces: ["a", "b"], complete: false, ending: .stall), for: Self.messages)
            let provider = try h.anthropic(streamIdleTimeout: .seconds(1))
            let stream = try await provider.stream(
                Harness.request(), target: Harness.claude, context: Harness.context())
            let (chunks, error) = try await withTimeLimit { await drain(stream) }
            #expect(text(of: chunks) == "ab")
            #expect((error as? ProviderError)?.errorClass == .timeout)
            try await withTimeLimit { await h.fake.waitForAbortedResponses(1) }
        }
    }

    @Test("A consumer that cancels closes the upstream connection")
    func cancellation() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.anthropicStream(pieces: ["first"], complete: false, ending: .stall), for: Self.messages)
            let stream = try await h.anthropic(streamIdleTimeout: .seconds(30)).stream(
                Harness.request(), target: Harness.claude, context: Harness.context())
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
            #expect(h.fake.activity.abortedResponses == 1)
            _ = await consumer.result
        }
    }

    // MARK: Secrets, models, health, embeddings

    @Test("The API key never appears in errors or descriptions, even when the upstream echoes it")
    func keyNeverLeaks() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .anthropicError(
                    status: 401, type: "authentication_error", message: "invalid x-api-key: \(Harness.apiKey)"),
                for: Self.messages)
            h.fake.enqueue(
                .sse([.anthropicMessageStart(), .anthropicError(type: "api_error", message: "key \(Harness.apiKey)")]),
                for: Self.messages)
            let provider = try h.anthropic()
            let error = await #expect(throws: ProviderError.self) {
                try await provider.complete(Harness.request(), target: Harness.claude, context: Harness.context())
            }
            #expect(error?.errorClass == .authentication)
            #expect(error.map { "\($0)" }?.contains(Harness.apiKey) == false)
            #expect(error?.message.contains("<redacted>") == true)
            let streamed = await drain(
                try await provider.stream(Harness.request(), target: Harness.claude, context: Harness.context()))
            let streamError = try #require(streamed.error)
            #expect(!"\(streamError)".contains(Harness.apiKey))
            #expect(!String(describing: provider).contains(Harness.apiKey))
            #expect(!String(reflecting: provider).contains(Harness.apiKey))
            #expect(!"\(Mirror(reflecting: provider).children.map { "\($0.value)" })".contains(Harness.apiKey))
        }
    }

    @Test("listModels reads every page; healthCheck lists one model and reports a bad key")
    func modelsAndHealth() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                [
                    .anthropicModelList(["claude-sonnet-4-20250514", "claude-haiku-4-5-20251001"], hasMore: true),
                    .anthropicModelList(["claude-opus-4-20250514"]),
                    .anthropicModelList(["claude-sonnet-4-20250514"]),
                    .anthropicError(status: 401, type: "authentication_error", message: "invalid x-api-key"),
                ], for: "/v1/models")
            let provider = try h.anthropic()
            let models = try await provider.listModels()
            #expect(
                models.map(\.id) == ["claude-sonnet-4-20250514", "claude-haiku-4-5-20251001", "claude-opus-4-20250514"])
            #expect(models.allSatisfy { $0.ownedBy == "anthropic" })
            let pages = h.fake.requests(to: "/v1/models")
            #expect(pages.map(\.query) == ["limit=1000", "limit=1000&after_id=claude-haiku-4-5-20251001"])
            #expect(pages.allSatisfy { $0.method == "GET" && $0.header("x-api-key") == Harness.apiKey })

            try await provider.healthCheck()
            #expect(h.fake.lastRequest?.query == "limit=1")
            let failed = await #expect(throws: ProviderError.self) { try await provider.healthCheck() }
            #expect(failed?.errorClass == .authentication)
        }
    }

    @Test("Embeddings are refused without a request")
    func embeddingsUnsupported() async throws {
        try await Harness.run { h in
            let error = await #expect(throws: ProviderError.self) {
                try await h.anthropic().embed(
                    EmbeddingRequest(model: "e", input: .text("x")), target: Harness.claude, context: Harness.context())
            }
            #expect(error?.errorClass == .invalidRequest)
            #expect(error?.message.contains("embeddings") == true)
            #expect(h.fake.requests.isEmpty)
        }
    }

    // MARK: Through a mesh

    @Test("Usage and cost through a mesh: cached tokens priced as cached")
    func usageAndCost() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .anthropicMessage(text: "ok", inputTokens: 1000, outputTokens: 2000, cacheReadTokens: 10_000),
                for: Self.messages)
            h.fake.enqueue(
                .anthropicStream(pieces: ["o", "k"], inputTokens: 3000, outputTokens: 1000), for: Self.messages)
            var configuration = MeshConfiguration()
            configuration.observability.connectors = []
            configuration.providers = [
                ProviderConfiguration(
                    id: "anthropic", connector: "anthropic.claude.v1", baseURL: h.fake.baseURL,
                    apiKey: Secret(Harness.apiKey))
            ]
            configuration.models = [
                ModelConfiguration(
                    id: "anthropic.claude-sonnet-4-20250514", provider: "anthropic",
                    capabilities: ["generation.text-generation.chat-completion"])
            ]
            configuration.pools = [PoolConfiguration(id: "chat", capability: "chat-completion")]
            #expect(BuiltInProviders.applyDefaults(to: &configuration) == ["anthropic.claude-sonnet-4-20250514"])
            let recorder = RecordingConnector()
            let mesh = try Mesh(
                configuration: configuration, providers: .builtIn(transport: h.transport), connectors: [recorder])

            let answer = try await mesh.route(Harness.request(model: "chat"))
            #expect(answer.value.text == "ok")
            #expect(
                answer.value.usage
                    == Usage(promptTokens: 11_000, completionTokens: 2000, cachedTokens: 10_000, cacheWriteTokens: 0))
            // $3/M plain input, $0.30/M cache reads, $15/M output.
            let expected = (1000 * 3.0 + 10_000 * 0.30 + 2000 * 15.0) / 1_000_000
            let cost = try #require(recorder.logs.last?.cost)
            #expect(abs(cost - expected) < 1e-12)

            let stream = try await mesh.routeStream(Harness.request(model: "chat"))
            var streamed = ""
            for try await chunk in stream.chunks { streamed += chunk.choices.first?.delta.content ?? "" }
            #expect(streamed == "ok")
            let streamCost = try #require(recorder.logs.last?.cost)
            #expect(abs(streamCost - (3000 * 3.0 + 1000 * 15.0) / 1_000_000) < 1e-12)
            #expect(recorder.logs.last?.tokensIn == 3000)
            #expect(recorder.logs.last?.tokensOut == 1000)
        }
    }
}

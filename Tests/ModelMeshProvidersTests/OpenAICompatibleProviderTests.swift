import Foundation
import ModelMesh
import ModelMeshProviders
import ModelMeshTesting
import Testing

@Suite("OpenAI-compatible provider over loopback HTTP")
struct OpenAICompatibleProviderTests {
    // MARK: Complete answers

    @Test("A plain answer: path, bearer, model rewritten, unknown fields and tools passed through")
    func plainAnswer() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .openAIChatCompletion(content: "Hi there", model: "gpt-4o-2024-08-06"), for: "/v1/chat/completions")
            let provider = try h.provider()
            let weather = Tool(
                function: .init(
                    name: "get_weather", description: "Weather for a city",
                    parameters: ["type": "object", "properties": ["city": ["type": "string"]], "required": ["city"]]))
            var request = Harness.request()
            request.tools = [weather]
            request.toolChoice = "auto"
            request.temperature = 0.2
            request.extra = [
                "seed": 42, "logprobs": true, "top_logprobs": 3,
                "vendor_extension": ["nested": [1, 2.5, "x", nil]],
            ]
            request.stream = false

            let answer = try await provider.complete(request, target: Harness.target, context: Harness.context())

            #expect(answer.completion.text == "Hi there")
            #expect(answer.completion.model == "gpt-4o-2024-08-06")
            #expect(answer.completion.usage == Usage(promptTokens: 10, completionTokens: 5))
            let recorded = try #require(h.fake.lastRequest)
            #expect(recorded.method == "POST")
            #expect(recorded.path == "/v1/chat/completions")
            #expect(recorded.header("authorization") == "Bearer \(Harness.apiKey)")
            #expect(recorded.header("content-type") == "application/json")
            #expect(recorded.header("x-request-id") == "req-test-1")
            let body = try #require(recorded.json)
            #expect(body["model"] == "gpt-4o")
            #expect(body["seed"] == 42)
            #expect(body["logprobs"] == true)
            #expect(body["top_logprobs"] == 3)
            #expect(body["vendor_extension"] == ["nested": [1, 2.5, "x", nil]])
            #expect(body["temperature"] == 0.2)
            #expect(body["tool_choice"] == "auto")
            #expect(body["stream"] == false)
            #expect(body["stream_options"] == nil)
            #expect(body["messages"] == [["role": "user", "content": "Hello"]])
            let sentTools = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode([weather]))
            #expect(body["tools"] == sentTools)
            #expect(body["tools"]?.arrayValue?.first?["function"]?["parameters"]?["required"] == ["city"])
        }
    }

    @Test("A complete request that asked for streaming is sent without stream flags")
    func completeNeverStreams() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.openAIChatCompletion(), for: "/v1/chat/completions")
            var request = Harness.request()
            request.stream = true
            request.streamOptions = ["include_usage": true]
            _ = try await h.provider().complete(request, target: Harness.target, context: Harness.context())
            let body = try #require(h.fake.lastRequest?.json)
            #expect(body["stream"] == nil)
            #expect(body["stream_options"] == nil)
        }
    }

    @Test("Tool calls in an answer are decoded")
    func toolsResponse() async throws {
        try await Harness.run { h in
            let call = ToolCall(id: "call_1", function: .init(name: "get_weather", arguments: #"{"city":"Oslo"}"#))
            h.fake.enqueue(.openAIChatCompletion(content: nil, toolCalls: [call]), for: "/v1/chat/completions")
            let answer = try await h.provider().complete(
                Harness.request(), target: Harness.target, context: Harness.context())
            let choice = try #require(answer.completion.choices.first)
            #expect(choice.finishReason == "tool_calls")
            #expect(choice.message.content == nil)
            #expect(choice.message.toolCalls == [call])
        }
    }

    @Test("Usage with cached prompt tokens is decoded")
    func usageWithCachedTokens() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .json(
                    #"""
                    {"id":"x","object":"chat.completion","created":1,"model":"gpt-4o",
                     "choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],
                     "usage":{"prompt_tokens":1200,"completion_tokens":30,"total_tokens":1230,
                              "prompt_tokens_details":{"cached_tokens":1024}}}
                    """#), for: "/v1/chat/completions")
            let answer = try await h.provider().complete(
                Harness.request(), target: Harness.target, context: Harness.context())
            #expect(answer.completion.usage == Usage(promptTokens: 1200, completionTokens: 30, cachedTokens: 1024))
        }
    }

    @Test("A server that omits id, created and model still answers (repaired, so not passed through)")
    func lenientCompletion() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .json(
                    #"{"choices":[{"index":0,"message":{"role":"assistant","content":"local"},"finish_reason":"stop"}]}"#
                ),
                for: "/v1/chat/completions")
            let answer = try await h.provider(connector: "ollama.local.v1", apiKey: nil).complete(
                Harness.request(), target: Harness.target, context: Harness.context())
            #expect(answer.completion.text == "local")
            #expect(answer.completion.model == "gpt-4o")
            // The bytes lack what was filled in: the proxy must encode the repaired answer.
            #expect(answer.body == nil)
        }
    }

    @Test("A complete answer keeps the upstream's bytes for pass-through, whitespace and extra fields included")
    func answerBytesPassThrough() async throws {
        try await Harness.run { h in
            let text =
                #"{ "id":"chatcmpl-1", "object":"chat.completion", "created":1, "model":"gpt-4o", "#
                + #""choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}], "#
                + #""service_tier":"default", "usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4} }"#
            h.fake.enqueue(.json(text), for: "/v1/chat/completions")
            let answer = try await h.provider().complete(
                Harness.request(), target: Harness.target, context: Harness.context())
            #expect(answer.completion.text == "hi")
            #expect(answer.completion.usage == Usage(promptTokens: 3, completionTokens: 1))
            #expect(answer.body == Data(text.utf8))
        }
    }

    @Test("Rate-limit headers of a success are parsed")
    func rateLimitHeaders() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .openAIChatCompletion(headers: [
                    ("x-ratelimit-limit-requests", "500"), ("x-ratelimit-remaining-requests", "499"),
                    ("x-ratelimit-limit-tokens", "30000"), ("x-ratelimit-remaining-tokens", "29000"),
                    ("x-ratelimit-reset-requests", "120ms"), ("x-ratelimit-reset-tokens", "6m0s"),
                ]), for: "/v1/chat/completions")
            let clock = TestClock()
            let context = AttemptContext(requestID: "r", deadline: clock.now().adding(.seconds(10)), clock: clock)
            let answer = try await h.provider().complete(Harness.request(), target: Harness.target, context: context)
            let limits = try #require(answer.rateLimit)
            #expect(limits.limitRequests == 500)
            #expect(limits.remainingRequests == 499)
            #expect(limits.limitTokens == 30000)
            #expect(limits.remainingTokens == 29000)
            #expect(limits.resetRequestsAt == clock.now().addingTimeInterval(0.12))
            #expect(limits.resetTokensAt == clock.now().addingTimeInterval(360))
        }
    }

    // MARK: Errors

    struct ErrorCase: Sendable, CustomTestStringConvertible {
        var name: String
        var response: FakeResponse
        var expected: ProviderErrorClass
        var status: Int
        var testDescription: String { name }
    }

    static let errorCases: [ErrorCase] = [
        ErrorCase(
            name: "401 invalid key",
            response: .openAIError(
                status: 401, message: "Incorrect API key provided.", type: "invalid_request_error",
                code: "invalid_api_key"), expected: .authentication, status: 401),
        ErrorCase(
            name: "403 forbidden",
            response: .openAIError(
                status: 403, message: "Country, region, or territory not supported", type: "request_forbidden",
                code: "unsupported_country_region_territory"), expected: .authentication, status: 403),
        ErrorCase(
            name: "404 model",
            response: .openAIError(
                status: 404, message: "The model `gpt-9` does not exist or you do not have access to it.",
                type: "invalid_request_error", code: "model_not_found"), expected: .modelNotFound, status: 404),
        ErrorCase(
            name: "400 context length",
            response: .openAIError(
                status: 400,
                message:
                    "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",
                type: "invalid_request_error", code: "context_length_exceeded", param: "messages"),
            expected: .contextLength, status: 400),
        ErrorCase(
            name: "400 context length by message only",
            response: .openAIError(
                status: 400, message: "This model's maximum context length is 8192 tokens.",
                type: "invalid_request_error"), expected: .contextLength, status: 400),
        ErrorCase(
            name: "400 content policy",
            response: .openAIError(
                status: 400, message: "Your request was rejected as a result of our safety system.",
                type: "invalid_request_error", code: "content_policy_violation"), expected: .contentPolicy, status: 400),
        ErrorCase(
            name: "400 content filter",
            response: .openAIError(
                status: 400, message: "The response was filtered", type: "invalid_request_error", code: "content_filter"
            ),
            expected: .contentPolicy, status: 400),
        ErrorCase(
            name: "400 other",
            response: .openAIError(
                status: 400, message: "Invalid value for 'temperature'", type: "invalid_request_error",
                code: "invalid_value", param: "temperature"), expected: .invalidRequest, status: 400),
        ErrorCase(
            name: "429 rate limit", response: .rateLimited(retryAfter: "2"), expected: .rateLimited, status: 429),
        ErrorCase(
            name: "429 insufficient quota",
            response: .openAIError(
                status: 429, message: "You exceeded your current quota, please check your plan and billing details.",
                type: "insufficient_quota", code: "insufficient_quota"), expected: .quotaExhausted, status: 429),
        ErrorCase(
            name: "500",
            response: .openAIError(
                status: 500, message: "The server had an error while processing your request.", type: "server_error"),
            expected: .serverError, status: 500),
        ErrorCase(
            name: "503 plain text", response: .text("Service Unavailable", status: 503), expected: .serverError,
            status: 503),
        ErrorCase(
            name: "502 HTML page", response: .text("<html>Bad Gateway</html>", status: 502, contentType: "text/html"),
            expected: .serverError, status: 502),
        ErrorCase(
            name: "Ollama string error",
            response: .json(#"{"error":"model \"llama9\" not found, try pulling it first"}"#, status: 404),
            expected: .modelNotFound, status: 404),
    ]

    @Test("Errors are classified from status and body", arguments: errorCases)
    func errorClassification(_ errorCase: ErrorCase) async throws {
        try await Harness.run { h in
            h.fake.enqueue(errorCase.response, for: "/v1/chat/completions")
            let error = try await #require(throws: ProviderError.self) {
                try await h.provider().complete(Harness.request(), target: Harness.target, context: Harness.context())
            }
            #expect(error.errorClass == errorCase.expected)
            #expect(error.status == errorCase.status)
            #expect(!error.message.isEmpty)
        }
    }

    @Test("The same classification applies when a stream is refused")
    func streamErrorClassification() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .openAIError(status: 400, message: "maximum context length exceeded", code: "context_length_exceeded"),
                for: "/v1/chat/completions")
            let error = try await #require(throws: ProviderError.self) {
                try await h.provider().stream(Harness.request(), target: Harness.target, context: Harness.context())
            }
            #expect(error.errorClass == .contextLength)
            #expect(error.vendorCode == "context_length_exceeded")
        }
    }

    @Test("429 carries Retry-After in seconds")
    func retryAfterSeconds() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .rateLimited(
                    retryAfter: "7",
                    headers: [("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-limit-requests", "60")]),
                for: "/v1/chat/completions")
            let error = try await #require(throws: ProviderError.self) {
                try await h.provider().complete(Harness.request(), target: Harness.target, context: Harness.context())
            }
            #expect(error.errorClass == .rateLimited)
            #expect(error.retryAfter == .seconds(7))
            #expect(error.rateLimit?.remainingRequests == 0)
            #expect(error.rateLimit?.limitRequests == 60)
            #expect(error.vendorCode == "rate_limit_exceeded")
        }
    }

    @Test("429 carries Retry-After as an HTTP date")
    func retryAfterDate() async throws {
        try await Harness.run { h in
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            let before = Date()
            let date = formatter.string(from: before.addingTimeInterval(30))
            h.fake.enqueue(.rateLimited(retryAfter: date), for: "/v1/chat/completions")
            let error = try await #require(throws: ProviderError.self) {
                try await h.provider().complete(Harness.request(), target: Harness.target, context: Harness.context())
            }
            // The date has whole seconds, and the wait counts from when the answer was read.
            let taken = Date().timeIntervalSince(before)
            let wait = try #require(error.retryAfter)
            #expect(wait > .seconds(29 - taken) && wait <= .seconds(31))
        }
    }

    // MARK: Network faults

    @Test("A connection reset before any byte is a connection error")
    func connectionReset() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.resetConnection, for: "/v1/chat/completions")
            let error = try await #require(throws: ProviderError.self) {
                try await h.provider().complete(Harness.request(), target: Harness.target, context: Harness.context())
            }
            #expect(error.errorClass == .connection)
            #expect(h.fake.activity.requests == 1)
        }
    }

    @Test("A refused connection fails at once as a connection error")
    func connectionRefused() async throws {
        try await Harness.run { h in
            let refusing = try RefusingPort()
            defer { refusing.close() }
            let url = refusing.url("/v1")
            let started = ContinuousClock.now
            let error = try await #require(throws: ProviderError.self) {
                try await h.provider(baseURL: url).complete(
                    Harness.request(), target: Harness.target, context: Harness.context())
            }
            #expect(error.errorClass == .connection)
            #expect(ContinuousClock.now - started < .seconds(4))  // cut by the short deadline, not a default one
        }
    }

    @Test("Accept-then-silence is cut by the provider timeout")
    func silenceHitsTimeout() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.silence, for: "/v1/chat/completions")
            let started = ContinuousClock.now
            let error = try await #require(throws: ProviderError.self) {
                try await h.provider(timeout: .milliseconds(200)).complete(
                    Harness.request(), target: Harness.target, context: Harness.context())
            }
            let elapsed = ContinuousClock.now - started
            #expect(error.errorClass == .timeout)
            #expect(elapsed >= .milliseconds(190) && elapsed < .seconds(4))
        }
    }

    @Test("Accept-then-silence is cut by the context deadline when it comes first")
    func silenceHitsContextDeadline() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.silence, for: "/v1/chat/completions")
            let started = ContinuousClock.now
            let error = try await #require(throws: ProviderError.self) {
                try await h.provider(timeout: .seconds(30)).complete(
                    Harness.request(), target: Harness.target, context: Harness.context(deadline: .milliseconds(150)))
            }
            #expect(error.errorClass == .timeout)
            #expect(ContinuousClock.now - started < .seconds(4))  // cut by the short deadline, not a default one
        }
    }

    @Test("A deadline already past fails without sending")
    func deadlinePassed() async throws {
        try await Harness.run { h in
            let error = try await #require(throws: ProviderError.self) {
                try await h.provider().complete(
                    Harness.request(), target: Harness.target, context: Harness.context(deadline: .seconds(-1)))
            }
            #expect(error.errorClass == .timeout)
            #expect(h.fake.activity.requests == 0)
        }
    }

    @Test("A first byte slower than the deadline is a timeout; a slow one within it is fine")
    func slowFirstByte() async throws {
        try await Harness.run { h in
            // Defaults, not a queue: on a loaded machine the first request can reach the fake after
            // the client gave up on it, and must not take the answer meant for the second.
            h.fake.setDefault(.openAIChatCompletion().delayingHead(by: .seconds(6)))
            // Two seconds of slack: at the start of a parallel run on a busy machine the event loops
            // lag by a second and more.
            let provider = try h.provider(timeout: .seconds(2))
            let error = try await #require(throws: ProviderError.self) {
                try await provider.complete(Harness.request(), target: Harness.target, context: Harness.context())
            }
            #expect(error.errorClass == .timeout)
            h.fake.setDefault(.openAIChatCompletion(content: "late but fine").delayingHead(by: .milliseconds(50)))
            let answer = try await provider.complete(
                Harness.request(), target: Harness.target, context: Harness.context())
            #expect(answer.completion.text == "late but fine")
        }
    }

    @Test("Cancelling a waiting request is .cancelled and closes the upstream connection")
    func cancelWaitingRequest() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.silence, for: "/v1/chat/completions")
            let provider = try h.provider(timeout: .seconds(30))
            let call = Task {
                try await provider.complete(Harness.request(), target: Harness.target, context: Harness.context())
            }
            try await withTimeLimit { await h.fake.waitForRequests(1) }
            call.cancel()
            let error = try await #require(throws: ProviderError.self) { try await call.value }
            #expect(error.errorClass == .cancelled)
            try await withTimeLimit { await h.fake.waitForAbortedResponses(1) }
        }
    }

    @Test("A complete answer whose body stalls after the head is a timeout")
    func bodyStallAfterHead() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.sse([.raw(#"{"id":"x","#)], ending: .stall), for: "/v1/chat/completions")
            let started = ContinuousClock.now
            let error = try await #require(throws: ProviderError.self) {
                try await h.provider(timeout: .milliseconds(300)).complete(
                    Harness.request(), target: Harness.target, context: Harness.context())
            }
            #expect(error.errorClass == .timeout)
            #expect(ContinuousClock.now - started < .seconds(4))  // cut by the short deadline, not a default one
            // On a loaded machine the deadline can pass before the request reaches the fake;
            // whatever did reach it must have been abandoned.
            try await withTimeLimit { await h.fake.wait { $0.abortedResponses >= $0.requests } }
        }
    }

    @Test("A stream whose head is slower than the deadline is a timeout")
    func slowStreamHead() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .openAIStream(pieces: ["x"]).delayingHead(by: .milliseconds(600)), for: "/v1/chat/completions")
            let error = try await #require(throws: ProviderError.self) {
                try await h.provider(timeout: .milliseconds(200)).stream(
                    Harness.request(), target: Harness.target, context: Harness.context())
            }
            #expect(error.errorClass == .timeout)
        }
    }

    // MARK: Secrets

    @Test("The API key never appears in an error, even when the upstream echoes it")
    func keyNeverInErrors() async throws {
        try await Harness.run { h in
            let echo =
                "Incorrect API key provided: \(Harness.apiKey). You can find your API key at https://example.com."
            h.fake.enqueue(
                .openAIError(status: 401, message: echo, code: "invalid_api_key"), for: "/v1/chat/completions")
            h.fake.enqueue(.text("bad key \(Harness.apiKey)", status: 500), for: "/v1/chat/completions")
            h.fake.enqueue(
                .sse([.openAIError(message: "stream failed for \(Harness.apiKey)")]), for: "/v1/chat/completions")
            h.fake.enqueue(.resetConnection, for: "/v1/chat/completions")
            h.fake.enqueue(.silence, for: "/v1/chat/completions")
            let provider = try h.provider()
            var errors: [any Error] = []
            for _ in 0..<2 {
                do {
                    _ = try await provider.complete(
                        Harness.request(), target: Harness.target, context: Harness.context())
                } catch { errors.append(error) }
            }
            let streamed = await drain(
                try await provider.stream(Harness.request(), target: Harness.target, context: Harness.context()))
            if let error = streamed.error { errors.append(error) }
            // The reset goes through the patient provider: on a loaded machine a 200 ms budget
            // could run out before the reset arrives, which would make it a timeout.
            let impatient = try h.provider(timeout: .milliseconds(200))
            for caller in [provider, impatient] {
                do {
                    _ = try await caller.complete(
                        Harness.request(), target: Harness.target, context: Harness.context())
                } catch { errors.append(error) }
            }
            #expect(errors.count == 5)
            for error in errors {
                for rendering in [
                    String(describing: error), String(reflecting: error), "\(error)", error.localizedDescription,
                ] {
                    #expect(!rendering.contains(Harness.apiKey), "key leaked in: \(rendering)")
                }
            }
            #expect(
                errors.map { ($0 as? ProviderError)?.errorClass } == [
                    .authentication, .serverError, .serverError, .connection, .timeout,
                ])
            #expect(String(describing: errors[0]).contains("<redacted>"))
            #expect(!String(describing: provider).contains(Harness.apiKey))
            #expect(!String(reflecting: provider).contains(Harness.apiKey))
        }
    }

    // MARK: Configuration

    @Test("base_url: a URL without a path gets /v1; a path is kept; a trailing slash is dropped")
    func baseURLConvention() async throws {
        try await Harness.run { h in
            h.fake.setDefault(.openAIChatCompletion())
            let bare = try h.provider(baseURL: h.fake.baseURL)
            #expect(bare.baseURL == h.fake.baseURL + "/v1")
            _ = try await bare.complete(Harness.request(), target: Harness.target, context: Harness.context())
            #expect(h.fake.lastRequest?.path == "/v1/chat/completions")

            let slash = try h.provider(baseURL: h.fake.baseURL + "/")
            _ = try await slash.complete(Harness.request(), target: Harness.target, context: Harness.context())
            #expect(h.fake.lastRequest?.path == "/v1/chat/completions")

            let nested = try h.provider(baseURL: h.fake.url("/openai/v1/"))
            _ = try await nested.complete(Harness.request(), target: Harness.target, context: Harness.context())
            #expect(h.fake.lastRequest?.path == "/openai/v1/chat/completions")

            let perplexityStyle = try h.provider(baseURL: h.fake.url("/api"))
            _ = try await perplexityStyle.complete(
                Harness.request(), target: Harness.target, context: Harness.context())
            #expect(h.fake.lastRequest?.path == "/api/chat/completions")
        }
    }

    @Test("Without an API key no Authorization header is sent; configured headers are")
    func noKeyAndCustomHeaders() async throws {
        try await Harness.run { h in
            h.fake.setDefault(.openAIChatCompletion())
            let provider = try h.provider(
                connector: "ollama.local.v1", apiKey: nil, headers: ["X-Custom": Secret("custom-value")])
            _ = try await provider.complete(Harness.request(), target: Harness.target, context: Harness.context())
            let recorded = try #require(h.fake.lastRequest)
            #expect(recorded.header("authorization") == nil)
            #expect(recorded.header("x-custom") == "custom-value")
        }
    }

    @Test("OpenRouter sends HTTP-Referer when set and X-Title (default ModelMesh)")
    func openRouterHeaders() async throws {
        try await Harness.run { h in
            h.fake.setDefault(.openAIChatCompletion())
            let configured = try h.provider(
                connector: "openrouter.gateway.v1", id: "openrouter",
                settings: ["http_referer": "https://example.app", "x_title": "My App"])
            _ = try await configured.complete(Harness.request(), target: Harness.target, context: Harness.context())
            #expect(h.fake.lastRequest?.header("HTTP-Referer") == "https://example.app")
            #expect(h.fake.lastRequest?.header("X-Title") == "My App")

            let plain = try h.provider(connector: "openrouter.gateway.v1", id: "openrouter")
            _ = try await plain.complete(Harness.request(), target: Harness.target, context: Harness.context())
            #expect(h.fake.lastRequest?.header("HTTP-Referer") == nil)
            #expect(h.fake.lastRequest?.header("X-Title") == "ModelMesh")

            let openAI = try h.provider()
            _ = try await openAI.complete(Harness.request(), target: Harness.target, context: Harness.context())
            #expect(h.fake.lastRequest?.header("X-Title") == nil)
        }
    }

    @Test("OpenAI organization and project settings become headers")
    func openAIOrganizationHeaders() async throws {
        try await Harness.run { h in
            h.fake.setDefault(.openAIChatCompletion())
            let provider = try h.provider(settings: ["organization": "org-123", "project": "proj_abc"])
            _ = try await provider.complete(Harness.request(), target: Harness.target, context: Harness.context())
            #expect(h.fake.lastRequest?.header("OpenAI-Organization") == "org-123")
            #expect(h.fake.lastRequest?.header("OpenAI-Project") == "proj_abc")
        }
    }

    // MARK: Embeddings, models, health

    @Test("Embeddings: model rewritten, vectors decoded (floats and base64)")
    func embeddings() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .json(
                    #"""
                    {"object":"list","model":"text-embedding-3-small",
                     "data":[{"object":"embedding","index":0,"embedding":[0.25,-0.5]},
                             {"object":"embedding","index":1,"embedding":[1.0,2.0]}],
                     "usage":{"prompt_tokens":8,"total_tokens":8}}
                    """#), for: "/v1/embeddings")
            // 1.0 and -2.0 as little-endian float32.
            let base64 = Data([0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0]).base64EncodedString()
            h.fake.enqueue(
                .json(
                    #"{"object":"list","model":"e","data":[{"object":"embedding","index":0,"embedding":"\#(base64)"}]}"#
                ),
                for: "/v1/embeddings")
            let provider = try h.provider()
            let target = ModelTarget(
                modelID: "openai.text-embedding-3-small", wireName: "text-embedding-3-small", providerID: "openai")
            let result = try await provider.embed(
                EmbeddingRequest(model: "embeddings-pool", input: .texts(["a", "b"]), dimensions: 2),
                target: target, context: Harness.context())
            #expect(result.response.data.map(\.embedding) == [[0.25, -0.5], [1.0, 2.0]])
            #expect(result.response.usage?.promptTokens == 8)
            let body = try #require(h.fake.lastRequest?.json)
            #expect(h.fake.lastRequest?.path == "/v1/embeddings")
            #expect(body["model"] == "text-embedding-3-small")
            #expect(body["input"] == ["a", "b"])
            #expect(body["dimensions"] == 2)

            let packed = try await provider.embed(
                EmbeddingRequest(model: "e", input: .text("a"), encodingFormat: "base64"), target: target,
                context: Harness.context())
            #expect(packed.response.data.first?.embedding == [1.0, -2.0])
        }
    }

    @Test("Embedding errors are classified like chat errors")
    func embeddingError() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .openAIError(status: 401, message: "bad key", code: "invalid_api_key"), for: "/v1/embeddings")
            let error = try await #require(throws: ProviderError.self) {
                try await h.provider().embed(
                    EmbeddingRequest(model: "e", input: .text("a")), target: Harness.target, context: Harness.context())
            }
            #expect(error.errorClass == .authentication)
        }
    }

    @Test("listModels reads GET /models; healthCheck fails with the classified error")
    func modelsAndHealth() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .json(
                    #"{"object":"list","data":[{"id":"gpt-4o","object":"model","owned_by":"openai"},{"id":"llama3","object":"model","owned_by":"library","context_length":8192}]}"#
                ), for: "/v1/models")
            h.fake.enqueue(.json(#"{"object":"list","data":[]}"#), for: "/v1/models")
            h.fake.enqueue(
                .openAIError(status: 401, message: "Invalid key", code: "invalid_api_key"), for: "/v1/models")
            let provider = try h.provider()
            let models = try await provider.listModels()
            #expect(
                models == [
                    ProviderModelInfo(id: "gpt-4o", ownedBy: "openai"),
                    ProviderModelInfo(id: "llama3", ownedBy: "library", contextWindow: 8192),
                ])
            #expect(h.fake.lastRequest?.method == "GET")
            #expect(h.fake.lastRequest?.header("authorization") == "Bearer \(Harness.apiKey)")
            try await provider.healthCheck()
            let error = try await #require(throws: ProviderError.self) { try await provider.healthCheck() }
            #expect(error.errorClass == .authentication)
        }
    }
}

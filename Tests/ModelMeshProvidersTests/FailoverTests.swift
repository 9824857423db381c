import Foundation
import ModelMesh
import ModelMeshProviders
import ModelMeshTesting
import Testing

/// Fake upstreams behind a mesh built with the built-in provider registry: every request
/// crosses real loopback HTTP through the real connectors.
struct FailoverRig {
    let transport: HTTPTransport
    let fakes: [FakeUpstream]
    let recorder = RecordingConnector()

    var a: FakeUpstream { fakes[0] }
    var b: FakeUpstream { fakes[1] }
    var c: FakeUpstream { fakes[2] }

    /// Runs `body` with `count` fresh fakes and one transport, shut down afterwards.
    static func run(fakes count: Int = 2, _ body: (FailoverRig) async throws -> Void) async throws {
        var fakes: [FakeUpstream] = []
        for _ in 0..<count { fakes.append(try await FakeUpstream.start()) }
        let rig = FailoverRig(transport: HTTPTransport(), fakes: fakes)
        var failure: (any Error)?
        do { try await body(rig) } catch { failure = error }
        try await rig.transport.shutdown()
        for fake in fakes { try await fake.shutdown() }
        if let failure { throw failure }
    }

    /// A provider of `connector` at `fake` (with `/v1` for the OpenAI family).
    static func provider(
        _ id: String, _ connector: String, at fake: FakeUpstream, timeout: Duration = .seconds(5)
    ) -> ProviderConfiguration {
        let openAIFamily = !(connector.hasPrefix("anthropic.") || connector.hasPrefix("google."))
        return ProviderConfiguration(
            id: id, connector: connector, baseURL: openAIFamily ? fake.url("/v1") : fake.baseURL,
            apiKey: Secret(Harness.apiKey), timeout: timeout)
    }

    /// A chat model `provider.name`.
    static func model(
        _ id: String, window: Int? = nil, features: ModelFeatures = [.systemPrompt], pricing: ModelPricing? = nil
    ) -> ModelConfiguration {
        ModelConfiguration(
            id: id, provider: String(id.prefix { $0 != "." }),
            capabilities: ["generation.text-generation.chat-completion"], features: features, contextWindow: window,
            pricing: pricing)
    }

    /// A mesh over `providers` and `models` with one pool `chat` listing the models in order.
    func mesh(
        providers: [ProviderConfiguration], models: [ModelConfiguration], clock: any MeshClock = SystemClock(),
        pool adjust: (inout PoolConfiguration) -> Void = { _ in }
    ) throws -> Mesh {
        var configuration = MeshConfiguration()
        configuration.observability.connectors = []
        configuration.providers = providers
        configuration.models = models
        var pool = PoolConfiguration(id: "chat", models: models.map(\.id))
        pool.retry.backoff = .fixed
        pool.retry.initialDelay = .milliseconds(20)
        adjust(&pool)
        configuration.pools = [pool]
        return try Mesh(
            configuration: configuration, providers: .builtIn(transport: transport), connectors: [recorder],
            clock: clock, jitter: { 1 })
    }

    static func ask(_ mesh: Mesh, _ text: String = "Hello") async throws -> Routed<ChatCompletion> {
        try await mesh.route(ChatCompletionRequest(model: "chat", messages: [.user(text)]))
    }
}

@Suite("Failover through a mesh over loopback HTTP")
struct FailoverTests {
    static let openAIPath = "/v1/chat/completions"
    static let anthropicPath = "/v1/messages"
    static let geminiPath = "/v1beta/models/gemini-2.0-flash:generateContent"

    @Test("A 429 with Retry-After: 1 is waited out on the same model, then answered")
    func retryAfterSeconds() async throws {
        try await FailoverRig.run { rig in
            rig.a.enqueue(
                [.rateLimited(retryAfter: "1"), .openAIChatCompletion(content: "after the wait")], for: Self.openAIPath)
            rig.b.setDefault(.anthropicMessage(text: "from b"))
            let mesh = try rig.mesh(
                providers: [
                    FailoverRig.provider("openai", "openai.llm.v1", at: rig.a),
                    FailoverRig.provider("anthropic", "anthropic.claude.v1", at: rig.b),
                ],
                models: [FailoverRig.model("openai.gpt-4o"), FailoverRig.model("anthropic.claude-sonnet-4-20250514")])

            let answer = try await FailoverRig.ask(mesh)

            #expect(answer.value.text == "after the wait")
            #expect(answer.modelID == "openai.gpt-4o")
            let requests = rig.a.requests
            #expect(requests.count == 2)
            let gap = requests[1].time.timeIntervalSince(requests[0].time)
            #expect(gap >= 0.9 && gap < 10)
            #expect(rig.b.requests.isEmpty)
        }
    }

    @Test("retry-after-ms from Anthropic sets the wait")
    func retryAfterMilliseconds() async throws {
        try await FailoverRig.run(fakes: 1) { rig in
            rig.a.enqueue(
                [
                    .anthropicRateLimited(retryAfter: nil, headers: [("retry-after-ms", "300")]),
                    .anthropicMessage(text: "ok"),
                ],
                for: Self.anthropicPath)
            let mesh = try rig.mesh(
                providers: [FailoverRig.provider("anthropic", "anthropic.claude.v1", at: rig.a)],
                models: [FailoverRig.model("anthropic.claude-sonnet-4-20250514")])
            let answer = try await FailoverRig.ask(mesh)
            #expect(answer.value.text == "ok")
            let requests = rig.a.requests(to: Self.anthropicPath)
            #expect(requests.count == 2)
            let gap = requests[1].time.timeIntervalSince(requests[0].time)
            #expect(gap >= 0.27 && gap < 10)  // 300 ms, not 300 s
        }
    }

    @Test("A Retry-After beyond max_delay rotates at once instead of waiting")
    func retryAfterBeyondMaxDelay() async throws {
        try await FailoverRig.run { rig in
            rig.a.enqueue(.geminiRateLimited(retryDelay: "45s"), for: Self.geminiPath)
            rig.b.enqueue(.openAIChatCompletion(content: "from b"), for: Self.openAIPath)
            let mesh = try rig.mesh(
                providers: [
                    FailoverRig.provider("google", "google.gemini.v1", at: rig.a),
                    FailoverRig.provider("openai", "openai.llm.v1", at: rig.b),
                ], models: [FailoverRig.model("google.gemini-2.0-flash"), FailoverRig.model("openai.gpt-4o")])
            let started = ContinuousClock.now
            let answer = try await FailoverRig.ask(mesh)
            #expect(answer.value.text == "from b")
            #expect(ContinuousClock.now - started < .seconds(4))  // cut by the short deadline, not a default one
            #expect(rig.a.requests.count == 1)
            #expect(rig.b.requests.count == 1)
            #expect(answer.attempts.map(\.errorClass) == ["rate_limited", nil])
        }
    }

    @Test("5xx answers are retried on the same model, then the request rotates")
    func serverErrorsRetriedThenRotated() async throws {
        try await FailoverRig.run { rig in
            rig.a.enqueue(
                [
                    .anthropicOverloaded,
                    .anthropicError(status: 500, type: "api_error", message: "Internal server error"),
                    .anthropicOverloaded,
                ], for: Self.anthropicPath)
            rig.b.enqueue(.geminiResponse(text: "from gemini"), for: Self.geminiPath)
            let clock = TestClock()
            let mesh = try rig.mesh(
                providers: [
                    FailoverRig.provider("anthropic", "anthropic.claude.v1", at: rig.a),
                    FailoverRig.provider("google", "google.gemini.v1", at: rig.b),
                ],
                models: [
                    FailoverRig.model("anthropic.claude-sonnet-4-20250514"),
                    FailoverRig.model("google.gemini-2.0-flash"),
                ],
                clock: clock)

            let answer = try await FailoverRig.ask(mesh)

            #expect(answer.value.text == "from gemini")
            #expect(answer.modelID == "google.gemini-2.0-flash")
            #expect(rig.a.requests.count == 3)
            #expect(rig.b.requests.count == 1)
            #expect(answer.attempts.map(\.status) == [529, 500, 529, 200])
            #expect(clock.sleeps == [.milliseconds(20), .milliseconds(20)])
            let rotation = try #require(rig.recorder.events(of: .modelRotated).first)
            #expect(rotation.metadata["reason"] == "server_error")
            #expect(rotation.metadata["to_model"] == "google.gemini-2.0-flash")
        }
    }

    @Test("A connection reset before the first byte is retried; resets on every attempt rotate")
    func resetBeforeFirstByte() async throws {
        try await FailoverRig.run(fakes: 3) { rig in
            rig.a.enqueue([.resetConnection, .openAIChatCompletion(content: "second try")], for: Self.openAIPath)
            rig.b.setDefault(.resetConnection)
            rig.c.enqueue(.anthropicMessage(text: "from c"), for: Self.anthropicPath)
            let clock = TestClock()
            let first = try rig.mesh(
                providers: [FailoverRig.provider("openai", "openai.llm.v1", at: rig.a)],
                models: [FailoverRig.model("openai.gpt-4o")], clock: clock)
            let retried = try await FailoverRig.ask(first)
            #expect(retried.value.text == "second try")
            #expect(rig.a.requests.count == 2)
            #expect(retried.attempts.map(\.errorClass) == ["connection_error", nil])

            let second = try rig.mesh(
                providers: [
                    FailoverRig.provider("groq", "groq.api.v1", at: rig.b),
                    FailoverRig.provider("anthropic", "anthropic.claude.v1", at: rig.c),
                ],
                models: [
                    FailoverRig.model("groq.llama-3.3-70b-versatile"),
                    FailoverRig.model("anthropic.claude-sonnet-4-20250514"),
                ],
                clock: clock)
            let rotated = try await FailoverRig.ask(second)
            #expect(rotated.value.text == "from c")
            #expect(rig.b.requests.count == 3)
            #expect(rig.c.requests.count == 1)
        }
    }

    @Test("A silent upstream is cut by its provider timeout and not retried on the same model")
    func silentUpstreamNotRetried() async throws {
        try await FailoverRig.run(fakes: 3) { rig in
            rig.a.setDefault(.silence)
            rig.b.setDefault(.geminiResponse().delayingHead(by: .seconds(5)))
            rig.c.enqueue(.anthropicMessage(text: "from c"), for: Self.anthropicPath)
            let mesh = try rig.mesh(
                providers: [
                    FailoverRig.provider("openai", "openai.llm.v1", at: rig.a, timeout: .milliseconds(700)),
                    FailoverRig.provider("google", "google.gemini.v1", at: rig.b, timeout: .milliseconds(700)),
                    FailoverRig.provider("anthropic", "anthropic.claude.v1", at: rig.c),
                ],
                models: [
                    FailoverRig.model("openai.gpt-4o"), FailoverRig.model("google.gemini-2.0-flash"),
                    FailoverRig.model("anthropic.claude-sonnet-4-20250514"),
                ])
            let started = ContinuousClock.now
            let answer = try await FailoverRig.ask(mesh)
            let elapsed = ContinuousClock.now - started

            #expect(answer.value.text == "from c")
            // One attempt per model. On a loaded machine a 0.7 s deadline can pass before the
            // request reaches its fake, so the fakes may have seen fewer, never more.
            #expect(answer.attempts.map(\.modelID) == [
                "openai.gpt-4o", "google.gemini-2.0-flash", "anthropic.claude-sonnet-4-20250514",
            ])
            #expect(rig.a.requests.count <= 1)
            #expect(rig.b.requests.count <= 1)
            #expect(rig.c.requests.count == 1)
            #expect(answer.attempts.map(\.errorClass) == ["timeout", "timeout", nil])
            #expect(elapsed >= .milliseconds(1350) && elapsed < .seconds(4))
        }
    }

    @Test("A context-length error is never resent to the same model; only a larger window is tried")
    func contextLength() async throws {
        try await FailoverRig.run(fakes: 3) { rig in
            rig.a.setDefault(
                .anthropicError(
                    status: 400, type: "invalid_request_error",
                    message: "prompt is too long: 150000 tokens > 100000 maximum"))
            rig.b.setDefault(.openAIChatCompletion(content: "small window"))
            rig.c.setDefault(.geminiResponse(text: "large window"))
            let clock = TestClock()
            let mesh = try rig.mesh(
                providers: [
                    FailoverRig.provider("anthropic", "anthropic.claude.v1", at: rig.a),
                    FailoverRig.provider("openai", "openai.llm.v1", at: rig.b),
                    FailoverRig.provider("google", "google.gemini.v1", at: rig.c),
                ],
                models: [
                    FailoverRig.model("anthropic.claude-sonnet-4-20250514", window: 100_000),
                    FailoverRig.model("openai.gpt-4o", window: 64_000),
                    FailoverRig.model("google.gemini-2.0-flash", window: 1_048_576),
                ], clock: clock)

            let answer = try await FailoverRig.ask(mesh)

            #expect(answer.value.text == "large window")
            #expect(rig.a.requests.count == 1)
            #expect(rig.b.requests.isEmpty)
            #expect(rig.c.requests.count == 1)
            #expect(clock.sleeps.isEmpty)
        }
    }

    @Test("Without a larger window the context-length error is returned after one request")
    func contextLengthNoLargerWindow() async throws {
        try await FailoverRig.run { rig in
            rig.a.setDefault(
                .openAIError(
                    status: 400, message: "This model's maximum context length is 128000 tokens.",
                    type: "invalid_request_error", code: "context_length_exceeded"))
            rig.b.setDefault(.anthropicMessage(text: "smaller"))
            let mesh = try rig.mesh(
                providers: [
                    FailoverRig.provider("openai", "openai.llm.v1", at: rig.a),
                    FailoverRig.provider("anthropic", "anthropic.claude.v1", at: rig.b),
                ],
                models: [
                    FailoverRig.model("openai.gpt-4o", window: 128_000),
                    FailoverRig.model("anthropic.claude-haiku-4-5-20251001", window: 100_000),
                ], clock: TestClock())
            let error = await #expect(throws: ModelMeshError.self) { try await FailoverRig.ask(mesh) }
            #expect(error?.code == .contextLengthExceeded)
            #expect(rig.a.requests.count == 1)
            #expect(rig.b.requests.isEmpty)
        }
    }

    @Test("A content-policy refusal is returned without rotating")
    func contentPolicyNotRotated() async throws {
        try await FailoverRig.run { rig in
            rig.a.setDefault(.geminiBlockedPrompt())
            rig.b.setDefault(.openAIChatCompletion(content: "would answer"))
            let mesh = try rig.mesh(
                providers: [
                    FailoverRig.provider("google", "google.gemini.v1", at: rig.a),
                    FailoverRig.provider("openai", "openai.llm.v1", at: rig.b),
                ], models: [FailoverRig.model("google.gemini-2.0-flash"), FailoverRig.model("openai.gpt-4o")],
                clock: TestClock())
            let error = await #expect(throws: ModelMeshError.self) { try await FailoverRig.ask(mesh) }
            #expect(error?.code == .contentPolicy)
            #expect(rig.a.requests.count == 1)
            #expect(rig.b.requests.isEmpty)
        }
    }

    @Test("An invalid key takes the provider out and rotates; later requests skip it")
    func authenticationFailure() async throws {
        try await FailoverRig.run { rig in
            rig.a.setDefault(.geminiInvalidKey)
            rig.b.setDefault(.anthropicMessage(text: "from b"))
            let mesh = try rig.mesh(
                providers: [
                    FailoverRig.provider("google", "google.gemini.v1", at: rig.a),
                    FailoverRig.provider("anthropic", "anthropic.claude.v1", at: rig.b),
                ],
                models: [
                    FailoverRig.model("google.gemini-2.0-flash"),
                    FailoverRig.model("anthropic.claude-sonnet-4-20250514"),
                ],
                clock: TestClock())
            #expect(try await FailoverRig.ask(mesh).value.text == "from b")
            #expect(try await FailoverRig.ask(mesh).value.text == "from b")
            #expect(rig.a.requests.count == 1)
            #expect(rig.b.requests.count == 2)
            let deactivated = try #require(rig.recorder.events(of: .providerDeactivated).first)
            #expect(deactivated.providerID == "google")
            #expect(deactivated.metadata["reason"] == "auth_failure")
            #expect(!"\(rig.recorder.events)".contains(Harness.apiKey))
            #expect(!"\(rig.recorder.logs)".contains(Harness.apiKey))
        }
    }

    @Test("An outage moves traffic to the backup; after the cooldown the primary is probed and takes traffic back")
    func outageAndRecovery() async throws {
        try await FailoverRig.run { rig in
            rig.a.setDefault(.openAIError(status: 503, message: "Service Unavailable", type: "server_error"))
            rig.b.setDefault(.anthropicMessage(text: "from backup"))
            let clock = TestClock()
            let mesh = try rig.mesh(
                providers: [
                    FailoverRig.provider("openai", "openai.llm.v1", at: rig.a),
                    FailoverRig.provider("anthropic", "anthropic.claude.v1", at: rig.b),
                ],
                models: [FailoverRig.model("openai.gpt-4o"), FailoverRig.model("anthropic.claude-sonnet-4-20250514")],
                clock: clock
            ) { pool in
                pool.retry.maxAttempts = 2
                pool.deactivation.retryLimit = 2
                pool.recovery.cooldown = .seconds(30)
            }

            #expect(try await FailoverRig.ask(mesh).modelID == "anthropic.claude-sonnet-4-20250514")
            #expect(rig.a.requests.count == 2)
            let out = try #require(rig.recorder.events(of: .modelDeactivated).first)
            #expect(out.modelID == "openai.gpt-4o")
            #expect(out.metadata["reason"] == "error_threshold")

            // Still cooling down: the primary is not tried.
            #expect(try await FailoverRig.ask(mesh).modelID == "anthropic.claude-sonnet-4-20250514")
            #expect(rig.a.requests.count == 2)

            rig.a.setDefault(.openAIChatCompletion(content: "primary is back"))
            clock.advance(by: .seconds(31))
            let probe = try await FailoverRig.ask(mesh)
            #expect(probe.value.text == "primary is back")
            #expect(probe.modelID == "openai.gpt-4o")
            let back = try #require(rig.recorder.events(of: .modelActivated).last)
            #expect(back.modelID == "openai.gpt-4o")
            #expect(back.metadata["trigger"] == "probe_success")

            #expect(try await FailoverRig.ask(mesh).modelID == "openai.gpt-4o")
            #expect(rig.a.requests.count == 4)
            #expect(rig.b.requests.count == 2)
        }
    }
}

import Foundation
import ModelMesh
import ModelMeshProviders
import ModelMeshTesting
import Testing

/// What a consumer of a routed stream saw: the text, whether it ended normally, the error.
struct StreamOutcome {
    var text = ""
    var finishReasons: [String] = []
    var error: (any Error)?

    var meshError: ModelMeshError? { error as? ModelMeshError }
}

func consume(_ stream: RoutedStream) async -> StreamOutcome {
    var outcome = StreamOutcome()
    do {
        for try await chunk in stream.chunks {
            outcome.text += chunk.choices.first?.delta.content ?? ""
            if let reason = chunk.choices.first?.finishReason { outcome.finishReasons.append(reason) }
        }
    } catch {
        outcome.error = error
    }
    return outcome
}

@Suite("Streaming failover through a mesh over loopback HTTP")
struct StreamingFailoverTests {
    static let openAIPath = "/v1/chat/completions"
    static let anthropicPath = "/v1/messages"
    static let geminiStreamPath = "/v1beta/models/gemini-2.0-flash:streamGenerateContent"
    static let request = ChatCompletionRequest(model: "chat", messages: [.user("Say hello")])
    /// A keep-alive after a pause, so the output before a cut has surely been relayed.
    static let pause = FakeStreamEvent.comment("keep-alive", delay: .milliseconds(100))

    /// The last message of a recorded OpenAI or Anthropic request body.
    static func lastMessage(_ recorded: RecordedRequest?) -> JSONValue? {
        recorded?.json?["messages"]?.arrayValue?.last
    }

    @Test("A stream failing before its first chunk is retried and rotated invisibly")
    func failureBeforeFirstChunk() async throws {
        try await FailoverRig.run { rig in
            rig.a.setDefault(.anthropicOverloaded)
            rig.b.enqueue(.geminiStream(pieces: ["Hi", "!"]), for: Self.geminiStreamPath)
            let mesh = try rig.mesh(
                providers: [
                    FailoverRig.provider("anthropic", "anthropic.claude.v1", at: rig.a),
                    FailoverRig.provider("google", "google.gemini.v1", at: rig.b),
                ],
                models: [
                    FailoverRig.model("anthropic.claude-sonnet-4-20250514"),
                    FailoverRig.model("google.gemini-2.0-flash"),
                ])
            let stream = try await mesh.routeStream(Self.request)
            #expect(stream.modelID == "google.gemini-2.0-flash")
            #expect(stream.attempts.map(\.status) == [529, 529, 529, 200])
            let outcome = await consume(stream)
            #expect(outcome.error == nil)
            #expect(outcome.text == "Hi!")
            #expect(rig.a.requests.count == 3)
            #expect(rig.b.requests.count == 1)
        }
    }

    @Test("A slow first token is cut by first_token_timeout and the request fails over")
    func slowFirstToken() async throws {
        try await FailoverRig.run { rig in
            rig.a.enqueue(.anthropicStream(pieces: ["late"], delay: .seconds(3)), for: Self.anthropicPath)
            rig.b.enqueue(.openAIStream(pieces: ["on ", "time"]), for: Self.openAIPath)
            let mesh = try rig.mesh(
                providers: [
                    FailoverRig.provider("anthropic", "anthropic.claude.v1", at: rig.a),
                    FailoverRig.provider("openai", "openai.llm.v1", at: rig.b),
                ],
                models: [FailoverRig.model("anthropic.claude-sonnet-4-20250514"), FailoverRig.model("openai.gpt-4o")]
            ) { pool in
                pool.stream.firstTokenTimeout = .seconds(1)
            }
            let started = ContinuousClock.now
            let stream = try await mesh.routeStream(Self.request)
            let outcome = await consume(stream)
            #expect(outcome.error == nil)
            #expect(outcome.text == "on time")
            #expect(stream.modelID == "openai.gpt-4o")
            #expect(stream.attempts.map(\.errorClass) == ["timeout", nil])
            #expect(ContinuousClock.now - started < .seconds(4))  // cut by the short deadline, not a default one
            #expect(rig.a.requests.count == 1)
            try await withTimeLimit { await rig.a.waitForAbortedResponses(1) }
        }
    }

    @Test("A stream cut mid-way continues on a prefill model, which receives the delivered text")
    func midStreamCutResumes() async throws {
        try await FailoverRig.run { rig in
            rig.a.enqueue(
                .sse(
                    FakeStreamEvent.openAIChunks(pieces: ["Hello", ", wor"], usage: nil).dropLast() + [Self.pause],
                    ending: .cut),
                for: Self.openAIPath)
            rig.b.enqueue(.anthropicStream(pieces: ["ld", "!"]), for: Self.anthropicPath)
            let mesh = try rig.mesh(
                providers: [
                    FailoverRig.provider("openai", "openai.llm.v1", at: rig.a),
                    FailoverRig.provider("anthropic", "anthropic.claude.v1", at: rig.b),
                ],
                models: [
                    FailoverRig.model("openai.gpt-4o"),
                    FailoverRig.model("anthropic.claude-sonnet-4-20250514", features: [.systemPrompt, .prefill]),
                ])
            let stream = try await mesh.routeStream(Self.request)
            #expect(stream.modelID == "openai.gpt-4o")
            let outcome = await consume(stream)

            #expect(outcome.error == nil)
            #expect(outcome.finishReasons == ["stop"])
            #expect(rig.a.requests.count == 1)
            #expect(rig.b.requests.count == 1)
            // The fallback continues from exactly what the caller received. Bytes that reached
            // the socket but not the reader when the upstream closed are lost (the HTTP client
            // drops them), so on a loaded machine that may be "Hello" rather than "Hello, wor".
            let messages = rig.b.lastRequest?.json?["messages"]?.arrayValue ?? []
            #expect(messages.count == 2)
            #expect(messages.first == ["role": "user", "content": "Say hello"])
            #expect(messages.last?["role"] == "assistant")
            let prefill = try #require(messages.last?["content"]?.stringValue)
            #expect(prefill == "Hello, wor" || prefill == "Hello")
            #expect(outcome.text == prefill + "ld!")
        }
    }

    @Test("A stall mid-stream is cut by idle_timeout and continues on a prefill model")
    func midStreamStallResumes() async throws {
        try await FailoverRig.run { rig in
            rig.a.enqueue(
                .geminiStream(pieces: ["Hello", " there"], finishReason: nil, ending: .stall),
                for: Self.geminiStreamPath)
            rig.b.enqueue(.openAIStream(pieces: [", friend."]), for: Self.openAIPath)
            let mesh = try rig.mesh(
                providers: [
                    FailoverRig.provider("google", "google.gemini.v1", at: rig.a),
                    FailoverRig.provider("openai", "openai.llm.v1", at: rig.b),
                ],
                models: [
                    FailoverRig.model("google.gemini-2.0-flash"),
                    FailoverRig.model("openai.gpt-4o", features: [.systemPrompt, .prefill]),
                ]
            ) { pool in
                pool.stream.idleTimeout = .seconds(1)
            }
            let started = ContinuousClock.now
            let outcome = await consume(try await mesh.routeStream(Self.request))

            #expect(outcome.error == nil)
            #expect(outcome.text == "Hello there, friend.")
            #expect(ContinuousClock.now - started < .seconds(4))  // cut by the short deadline, not a default one
            #expect(Self.lastMessage(rig.b.lastRequest) == ["role": "assistant", "content": "Hello there"])
            #expect(rig.b.lastRequest?.json?["stream"] == true)
            try await withTimeLimit { await rig.a.waitForAbortedResponses(1) }
        }
    }

    @Test("Without a prefill-capable fallback a cut stream ends with stream_interrupted after the partial text")
    func midStreamWithoutPrefill() async throws {
        try await FailoverRig.run { rig in
            rig.a.enqueue(
                .sse(
                    FakeStreamEvent.anthropicEvents(pieces: ["Partial", " answer"], complete: false) + [Self.pause],
                    ending: .cut),
                for: Self.anthropicPath)
            rig.b.setDefault(.openAIStream(pieces: ["unused"]))
            let mesh = try rig.mesh(
                providers: [
                    FailoverRig.provider("anthropic", "anthropic.claude.v1", at: rig.a),
                    FailoverRig.provider("openai", "openai.llm.v1", at: rig.b),
                ],
                models: [FailoverRig.model("anthropic.claude-sonnet-4-20250514"), FailoverRig.model("openai.gpt-4o")])
            let outcome = await consume(try await mesh.routeStream(Self.request))
            #expect(outcome.text == "Partial answer")
            #expect(outcome.finishReasons.isEmpty)
            #expect(outcome.meshError?.code == .streamInterrupted)
            #expect(rig.b.requests.isEmpty)
            let log = try #require(rig.recorder.logs.last)
            #expect(log.error != nil)
        }
    }

    @Test("With mid_stream: fail a cut stream ends with stream_interrupted even when a prefill model exists")
    func midStreamFailPolicy() async throws {
        try await FailoverRig.run { rig in
            rig.a.enqueue(
                .sse(
                    FakeStreamEvent.openAIChunks(pieces: ["Half"], usage: nil).dropLast() + [Self.pause], ending: .cut),
                for: Self.openAIPath)
            rig.b.setDefault(.anthropicStream(pieces: ["unused"]))
            let mesh = try rig.mesh(
                providers: [
                    FailoverRig.provider("openai", "openai.llm.v1", at: rig.a),
                    FailoverRig.provider("anthropic", "anthropic.claude.v1", at: rig.b),
                ],
                models: [
                    FailoverRig.model("openai.gpt-4o"),
                    FailoverRig.model("anthropic.claude-sonnet-4-20250514", features: [.prefill]),
                ]
            ) { pool in
                pool.stream.midStream = .fail
            }
            let outcome = await consume(try await mesh.routeStream(Self.request))
            #expect(outcome.text == "Half")
            #expect(outcome.meshError?.code == .streamInterrupted)
            #expect(rig.b.requests.isEmpty)
        }
    }

    @Test(
        "A stream that closes cleanly without its end marker and without a finish reason is never a success",
        arguments: ["openai", "anthropic", "google"])
    func cleanCloseWithoutEndMarker(_ vendor: String) async throws {
        try await FailoverRig.run(fakes: 1) { rig in
            let provider: ProviderConfiguration
            let model: ModelConfiguration
            switch vendor {
            case "openai":
                // No finish chunk and no `data: [DONE]`.
                rig.a.enqueue(
                    .sse(
                        FakeStreamEvent.openAIChunks(pieces: ["Almost", " done"], usage: nil).dropLast(),
                        ending: .finish),
                    for: Self.openAIPath)
                provider = FailoverRig.provider("openai", "openai.llm.v1", at: rig.a)
                model = FailoverRig.model("openai.gpt-4o")
            case "anthropic":
                rig.a.enqueue(.anthropicStream(pieces: ["Almost", " done"], complete: false), for: Self.anthropicPath)
                provider = FailoverRig.provider("anthropic", "anthropic.claude.v1", at: rig.a)
                model = FailoverRig.model("anthropic.claude-sonnet-4-20250514")
            default:
                rig.a.enqueue(
                    .geminiStream(pieces: ["Almost", " done"], finishReason: nil), for: Self.geminiStreamPath)
                provider = FailoverRig.provider("google", "google.gemini.v1", at: rig.a)
                model = FailoverRig.model("google.gemini-2.0-flash")
            }
            let mesh = try rig.mesh(providers: [provider], models: [model])
            let outcome = await consume(try await mesh.routeStream(Self.request))
            #expect(outcome.text == "Almost done")
            #expect(outcome.meshError?.code == .streamInterrupted)
            #expect(rig.recorder.logs.last?.error != nil)
        }
    }

    @Test("A stream that finished and closed cleanly without [DONE] is a complete success with usage")
    func cleanEndWithoutDoneSucceeds() async throws {
        try await FailoverRig.run { rig in
            rig.a.enqueue(
                .openAIStream(
                    pieces: ["Hello", " there"], usage: Usage(promptTokens: 1_000_000, completionTokens: 0),
                    ending: .finish),
                for: Self.openAIPath)
            rig.b.setDefault(.anthropicStream(pieces: ["unused"]))
            let mesh = try rig.mesh(
                providers: [
                    FailoverRig.provider("openai", "openai.llm.v1", at: rig.a),
                    FailoverRig.provider("anthropic", "anthropic.claude.v1", at: rig.b),
                ],
                models: [
                    FailoverRig.model(
                        "openai.gpt-4o", pricing: ModelPricing(inputPerMillion: 2.5, outputPerMillion: 10)),
                    FailoverRig.model("anthropic.claude-sonnet-4-20250514", features: [.systemPrompt, .prefill]),
                ]
            ) { pool in
                // Far longer than the test may take: the end must not wait for a deadline.
                pool.stream.idleTimeout = .seconds(60)
            }
            var request = Self.request
            request.streamOptions = ["include_usage": true]
            let started = ContinuousClock.now
            let stream = try await mesh.routeStream(request)
            var usage: Usage?
            var outcome = StreamOutcome()
            do {
                for try await chunk in stream.chunks {
                    outcome.text += chunk.choices.first?.delta.content ?? ""
                    if let reason = chunk.choices.first?.finishReason { outcome.finishReasons.append(reason) }
                    if let chunkUsage = chunk.usage { usage = chunkUsage }
                }
            } catch {
                outcome.error = error
            }
            #expect(outcome.error == nil)
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(outcome.text == "Hello there")
            #expect(outcome.finishReasons == ["stop"])
            #expect(usage == Usage(promptTokens: 1_000_000, completionTokens: 0))
            #expect(stream.modelID == "openai.gpt-4o")
            #expect(rig.b.requests.isEmpty)  // not resumed elsewhere
            let log = try #require(rig.recorder.logs.last)
            #expect(log.error == nil)
            #expect(log.tokensIn == 1_000_000)
            #expect(abs((log.cost ?? 0) - 2.5) < 1e-9)
        }
    }

    @Test("A consumer that stops reading a routed stream closes the upstream connection")
    func consumerCancellation() async throws {
        try await FailoverRig.run(fakes: 1) { rig in
            rig.a.enqueue(.anthropicStream(pieces: ["first"], complete: false, ending: .stall), for: Self.anthropicPath)
            let mesh = try rig.mesh(
                providers: [FailoverRig.provider("anthropic", "anthropic.claude.v1", at: rig.a)],
                models: [FailoverRig.model("anthropic.claude-sonnet-4-20250514")])
            let stream = try await mesh.routeStream(Self.request)
            let (firstText, signal) = AsyncStream<Void>.makeStream()
            let consumer = Task {
                for try await chunk in stream.chunks where chunk.choices.first?.delta.content == "first" {
                    signal.yield()
                }
            }
            for await _ in firstText { break }
            #expect(rig.a.activity.abortedResponses == 0)
            consumer.cancel()
            try await withTimeLimit { await rig.a.waitForAbortedResponses(1) }
            _ = await consumer.result
        }
    }
}

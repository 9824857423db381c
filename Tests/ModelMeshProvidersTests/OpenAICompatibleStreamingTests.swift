import Foundation
import ModelMesh
import ModelMeshProviders
import ModelMeshTesting
import Testing

@Suite("OpenAI-compatible streaming over loopback HTTP")
struct OpenAICompatibleStreamingTests {
    @Test("A streamed answer: chunks in order, usage chunk, include_usage requested, [DONE] ends it")
    func streamedAnswer() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .openAIStream(
                    pieces: ["Hel", "lo", ", ", "world"], usage: Usage(promptTokens: 12, completionTokens: 4)),
                for: "/v1/chat/completions")
            var request = Harness.request()
            request.extra["seed"] = 7
            let stream = try await h.provider().stream(request, target: Harness.target, context: Harness.context())
            let (chunks, error) = await drain(stream)

            #expect(error == nil)
            #expect(chunks.count == 7)  // role, 4 pieces, finish, usage
            #expect(chunks.first?.choices.first?.delta.role == "assistant")
            #expect(text(of: chunks) == "Hello, world")
            #expect(chunks[5].choices.first?.finishReason == "stop")
            #expect(chunks.last?.choices.isEmpty == true)
            #expect(chunks.last?.usage == Usage(promptTokens: 12, completionTokens: 4))

            let recorded = try #require(h.fake.lastRequest)
            #expect(recorded.header("accept") == "text/event-stream")
            let body = try #require(recorded.json)
            #expect(body["model"] == "gpt-4o")
            #expect(body["stream"] == true)
            #expect(body["stream_options"] == ["include_usage": true])
            #expect(body["seed"] == 7)
        }
    }

    @Test("Existing stream_options are kept and include_usage is merged in")
    func streamOptionsMerged() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.openAIStream(pieces: ["x"]), for: "/v1/chat/completions")
            var request = Harness.request()
            request.streamOptions = ["include_obfuscation": false, "include_usage": false]
            _ = await drain(try await h.provider().stream(request, target: Harness.target, context: Harness.context()))
            let body = try #require(h.fake.lastRequest?.json)
            #expect(body["stream_options"] == ["include_obfuscation": false, "include_usage": true])
        }
    }

    @Test("Streamed tool-call deltas are decoded")
    func streamedToolCalls() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .sse(
                    [
                        .openAIChunk(
                            role: "assistant",
                            toolCalls: [
                                ToolCall(index: 0, id: "call_1", function: .init(name: "get_weather", arguments: ""))
                            ]),
                        .openAIChunk(toolCalls: [
                            ToolCall(index: 0, id: nil, type: nil, function: .init(name: nil, arguments: #"{"city":"#))
                        ]),
                        .openAIChunk(toolCalls: [
                            ToolCall(index: 0, id: nil, type: nil, function: .init(name: nil, arguments: #""Oslo"}"#))
                        ]),
                        .openAIChunk(finishReason: "tool_calls"),
                    ], ending: .done), for: "/v1/chat/completions")
            let (chunks, error) = await drain(
                try await h.provider().stream(Harness.request(), target: Harness.target, context: Harness.context()))
            #expect(error == nil)
            let calls = chunks.flatMap { $0.choices.first?.delta.toolCalls ?? [] }
            #expect(calls.first?.function.name == "get_weather")
            #expect(calls.compactMap(\.function.arguments).joined() == #"{"city":"Oslo"}"#)
            #expect(chunks.last?.choices.first?.finishReason == "tool_calls")
        }
    }

    @Test(
        "The routing deadlines are enforced on the socket: keep-alives and a role chunk are not a first token",
        arguments: [false, true])
    func streamDeadlines(outputFirst: Bool) async throws {
        try await Harness.run { h in
            // Keep-alive comments every 50 ms keep the body busy: only the element deadlines can fire.
            let keepAlives = (0..<80).map { _ in FakeStreamEvent.comment("keep-alive", delay: .milliseconds(50)) }
            let first: FakeStreamEvent =
                outputFirst ? .openAIChunk(content: "Hi", role: "assistant") : .openAIChunk(role: "assistant")
            h.fake.enqueue(.sse([first] + keepAlives, ending: .done), for: "/v1/chat/completions")
            let provider = try h.provider()
            #expect(provider.enforcesStreamDeadlines)
            var context = Harness.context()
            context.streamDeadlines = StreamDeadlines(
                firstToken: outputFirst ? .seconds(30) : .seconds(1),
                idle: outputFirst ? .seconds(1) : .seconds(30))
            let started = ContinuousClock.now
            let (chunks, error) = await drain(
                try await provider.stream(Harness.request(), target: Harness.target, context: context))
            let elapsed = ContinuousClock.now - started
            #expect(chunks.count == 1)
            let failure = try #require(error as? ProviderError)
            #expect(failure.errorClass == .timeout)
            #expect(failure.message.contains(outputFirst ? "idle_timeout" : "first_token_timeout"))
            // Without the deadline the keep-alives would run out after 4 s and the stream end normally.
            #expect(elapsed >= .seconds(1))
        }
    }

    @Test("A body cut mid-stream throws streamInterrupted after the chunks that arrived")
    func midStreamCut() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .sse(FakeStreamEvent.openAIChunks(pieces: ["one", "two"], usage: nil).dropLast(), ending: .cut),
                for: "/v1/chat/completions")
            let (chunks, error) = await drain(
                try await h.provider().stream(Harness.request(), target: Harness.target, context: Harness.context()))
            #expect(text(of: chunks) == "onetwo")
            #expect(chunks.count == 3)
            let failure = try #require(error as? ProviderError)
            #expect(failure.errorClass == .streamInterrupted)
        }
    }

    @Test("A body that ends cleanly after a finish_reason but without [DONE] is a complete answer, at once")
    func cleanEndAfterFinishWithoutDone() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .openAIStream(
                    pieces: ["com", "plete"], usage: Usage(promptTokens: 9, completionTokens: 2), ending: .finish),
                for: "/v1/chat/completions")
            // A long idle timeout: ending normally must not wait for it.
            let provider = try h.provider(timeout: .seconds(30))
            let started = ContinuousClock.now
            let (chunks, error) = await drain(
                try await provider.stream(Harness.request(), target: Harness.target, context: Harness.context()))
            #expect(error == nil)
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(text(of: chunks) == "complete")
            #expect(chunks.compactMap { $0.choices.first?.finishReason } == ["stop"])
            #expect(chunks.last?.choices.isEmpty == true)
            #expect(chunks.last?.usage == Usage(promptTokens: 9, completionTokens: 2))
        }
    }

    @Test("Without a usage chunk, a finish_reason and a clean end still complete the stream")
    func cleanEndAfterFinishWithoutUsage() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.openAIStream(pieces: ["done"], usage: nil, ending: .finish), for: "/v1/chat/completions")
            let (chunks, error) = await drain(
                try await h.provider().stream(Harness.request(), target: Harness.target, context: Harness.context()))
            #expect(error == nil)
            #expect(text(of: chunks) == "done")
            #expect(chunks.last?.choices.first?.finishReason == "stop")
        }
    }

    @Test("A body that ends cleanly without any finish_reason (and without [DONE]) is a truncated stream")
    func cleanEndWithoutFinish() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .sse(FakeStreamEvent.openAIChunks(pieces: ["partial"], usage: nil).dropLast(), ending: .finish),
                for: "/v1/chat/completions")
            let (chunks, error) = await drain(
                try await h.provider().stream(Harness.request(), target: Harness.target, context: Harness.context()))
            #expect(text(of: chunks) == "partial")
            #expect((error as? ProviderError)?.errorClass == .streamInterrupted)
        }
    }

    @Test("With n > 1, a clean end is complete only when every choice reported its finish_reason")
    func cleanEndWithUnfinishedChoice() async throws {
        try await Harness.run { h in
            func chunk(_ index: Int, _ content: String?, finish: String? = nil) -> FakeStreamEvent {
                .json(
                    ChatCompletionChunk(
                        id: "c", created: 1, model: "gpt-4o",
                        choices: [.init(index: index, delta: .init(content: content), finishReason: finish)]))
            }
            h.fake.enqueue(
                .sse([chunk(0, "a"), chunk(1, "b"), chunk(0, nil, finish: "stop")], ending: .finish),
                for: "/v1/chat/completions")
            h.fake.enqueue(
                .sse(
                    [chunk(0, "a"), chunk(1, "b"), chunk(0, nil, finish: "stop"), chunk(1, nil, finish: "length")],
                    ending: .finish),
                for: "/v1/chat/completions")
            let provider = try h.provider()
            let open = await drain(
                try await provider.stream(Harness.request(), target: Harness.target, context: Harness.context()))
            #expect((open.error as? ProviderError)?.errorClass == .streamInterrupted)
            let finished = await drain(
                try await provider.stream(Harness.request(), target: Harness.target, context: Harness.context()))
            #expect(finished.error == nil)
            #expect(finished.chunks.count == 4)
        }
    }

    @Test("A connection cut after the finish_reason is still an interrupted stream")
    func cutAfterFinish() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.openAIStream(pieces: ["almost"], usage: nil, ending: .cut), for: "/v1/chat/completions")
            let (chunks, error) = await drain(
                try await h.provider().stream(Harness.request(), target: Harness.target, context: Harness.context()))
            #expect(text(of: chunks) == "almost")
            #expect((error as? ProviderError)?.errorClass == .streamInterrupted)
        }
    }

    @Test("A stall mid-stream is cut by the idle watchdog as a timeout")
    func stallMidStream() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .sse(FakeStreamEvent.openAIChunks(pieces: ["a", "b"], usage: nil), ending: .stall),
                for: "/v1/chat/completions")
            let provider = try h.provider(timeout: .seconds(5), streamIdleTimeout: .seconds(1))
            let started = ContinuousClock.now
            let stream = try await provider.stream(
                Harness.request(), target: Harness.target, context: Harness.context())
            let (chunks, error) = try await withTimeLimit { await drain(stream) }
            let elapsed = ContinuousClock.now - started
            #expect(text(of: chunks) == "ab")
            #expect((error as? ProviderError)?.errorClass == .timeout)
            #expect(elapsed >= .milliseconds(990) && elapsed < .seconds(4))
            // The watchdog also closed the upstream connection.
            try await withTimeLimit { await h.fake.waitForAbortedResponses(1) }
        }
    }

    @Test("Slow but steady events within the idle timeout are not a stall")
    func slowSteadyStream() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .openAIStream(pieces: ["a", "b", "c"], delay: .milliseconds(60)), for: "/v1/chat/completions")
            let provider = try h.provider(streamIdleTimeout: .seconds(2))
            let (chunks, error) = await drain(
                try await provider.stream(Harness.request(), target: Harness.target, context: Harness.context()))
            #expect(error == nil)
            #expect(text(of: chunks) == "abc")
        }
    }

    @Test("An undecodable event is skipped and counted; keep-alive comments are ignored")
    func invalidEventSkipped() async throws {
        try await Harness.run { h in
            var events = FakeStreamEvent.openAIChunks(pieces: ["x", "y"])
            events.insert(.data("{not json"), at: 2)
            events.insert(.comment("OPENROUTER PROCESSING"), at: 1)
            events.insert(.data(#"{"unexpected": "shape"}"#), at: 3)
            h.fake.enqueue(.sse(events, ending: .done), for: "/v1/chat/completions")
            let provider = try h.provider()
            let (chunks, error) = await drain(
                try await provider.stream(Harness.request(), target: Harness.target, context: Harness.context()))
            #expect(error == nil)
            #expect(text(of: chunks) == "xy")
            #expect(provider.invalidStreamEventCount == 2)
        }
    }

    @Test("Events split across writes and CRLF line endings are parsed")
    func splitAndCRLFEvents() async throws {
        try await Harness.run { h in
            let chunk =
                #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"split"},"finish_reason":null}]}"#
            h.fake.enqueue(
                .sse(
                    [
                        .raw("data: " + chunk.prefix(40)),
                        .raw(String(chunk.dropFirst(40)) + "\r", delay: .milliseconds(20)),
                        .raw("\n\r\n", delay: .milliseconds(20)),
                        .raw("data: [DONE]\r\n\r\n"),
                    ], ending: .finish), for: "/v1/chat/completions")
            let (chunks, error) = await drain(
                try await h.provider().stream(Harness.request(), target: Harness.target, context: Harness.context()))
            #expect(error == nil)
            #expect(text(of: chunks) == "split")
        }
    }

    @Test("An in-band error event fails the stream with a classified ProviderError")
    func inBandError() async throws {
        try await Harness.run { h in
            var events = Array(FakeStreamEvent.openAIChunks(pieces: ["a"], usage: nil).prefix(2))
            events.append(
                .openAIError(message: "The server had an error while processing your request.", type: "server_error"))
            h.fake.enqueue(.sse(events, ending: .done), for: "/v1/chat/completions")
            h.fake.enqueue(
                .sse([.data(#"{"error":{"message":"Rate limit exceeded upstream","code":429}}"#)], ending: .finish),
                for: "/v1/chat/completions")
            let provider = try h.provider()
            let first = await drain(
                try await provider.stream(Harness.request(), target: Harness.target, context: Harness.context()))
            #expect(text(of: first.chunks) == "a")
            let error = try #require(first.error as? ProviderError)
            #expect(error.errorClass == .serverError)
            #expect(error.message.contains("processing your request"))

            let second = await drain(
                try await provider.stream(Harness.request(), target: Harness.target, context: Harness.context()))
            #expect((second.error as? ProviderError)?.errorClass == .rateLimited)
        }
    }

    @Test("Cancelling the consuming task cancels the upstream request")
    func cancellationClosesUpstream() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .sse(FakeStreamEvent.openAIChunks(pieces: ["first"], usage: nil), ending: .stall),
                for: "/v1/chat/completions")
            let provider = try h.provider(streamIdleTimeout: .seconds(30))
            let stream = try await provider.stream(
                Harness.request(), target: Harness.target, context: Harness.context())
            let (firstChunk, firstChunkContinuation) = AsyncStream<Void>.makeStream()
            let consumer = Task {
                var received = 0
                for try await _ in stream.chunks {
                    received += 1
                    if received == 1 { firstChunkContinuation.yield() }
                }
                return received
            }
            // Wait for a chunk to arrive, then walk away.
            for await _ in firstChunk { break }
            #expect(h.fake.activity.abortedResponses == 0)
            consumer.cancel()
            try await withTimeLimit { await h.fake.waitForAbortedResponses(1) }
            #expect(h.fake.activity.abortedResponses == 1)
            _ = await consumer.result
        }
    }

    @Test("Dropping the stream before reading cancels the upstream request")
    func droppedStreamClosesUpstream() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.sse([.openAIChunk(content: "x")], ending: .stall), for: "/v1/chat/completions")
            let provider = try h.provider(streamIdleTimeout: .seconds(30))
            do {
                let stream = try await provider.stream(
                    Harness.request(), target: Harness.target, context: Harness.context())
                var iterator = stream.chunks.makeAsyncIterator()
                _ = try await iterator.next()
            }
            try await withTimeLimit { await h.fake.waitForAbortedResponses(1) }
        }
    }

    @Test("Concurrent streams do not queue behind each other")
    func concurrentStreams() async throws {
        try await Harness.run { h in
            let count = 32
            // Every stream sends one chunk, then stays open.
            h.fake.setDefault(.openAIStream(pieces: ["a"], ending: .stall))
            let provider = try h.provider(timeout: .seconds(30), streamIdleTimeout: .seconds(60))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<count {
                    group.addTask {
                        let stream = try await provider.stream(
                            Harness.request(), target: Harness.target, context: Harness.context())
                        var iterator = stream.chunks.makeAsyncIterator()
                        _ = try await iterator.next()
                        try await Task.sleep(for: .seconds(60))  // hold the stream open
                    }
                }
                // All of them reach the upstream while all are still open: a pool capped at
                // 8 connections per host would keep the rest waiting behind the first 8.
                try await withTimeLimit(.seconds(20)) { await h.fake.waitForRequests(count) }
                #expect(h.fake.activity.acceptedConnections >= count)
                group.cancelAll()
            }
        }
    }
}

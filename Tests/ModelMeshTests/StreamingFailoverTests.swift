import Foundation
import ModelMesh
import ModelMeshTesting
import Testing

@Suite struct StreamingFailoverTests {
    func collect(_ stream: AsyncThrowingStream<ChatCompletionChunk, any Error>) async throws -> (String, [ChatCompletionChunk]) {
        var chunks: [ChatCompletionChunk] = []
        for try await chunk in stream { chunks.append(chunk) }
        return (chunks.compactMap { $0.choices.first?.delta.content }.joined(), chunks)
    }

    func request(includeUsage: Bool = false) -> ChatCompletionRequest {
        var r = ChatCompletionRequest(model: "chat", messages: [.user("tell me")], stream: true)
        if includeUsage { r.streamOptions = ["include_usage": true] }
        return r
    }

    @Test func streamsChunksInOrder() async throws {
        let f = try MeshFixture(models: [("a", MockProvider(fallback: .reply("one two three")))])
        let routed = try await f.mesh.routeStream(request(includeUsage: true))
        let (text, chunks) = try await collect(routed.chunks)
        #expect(text == "one two three")
        #expect(routed.modelID == "a")
        #expect(chunks.first?.choices.first?.delta.role == "assistant")
        #expect(chunks.last?.usage?.completionTokens == 5)
        #expect(Set(chunks.map(\.id)).count == 1)
    }

    @Test func usageChunkIsDroppedUnlessRequested() async throws {
        let f = try MeshFixture(models: [("a", MockProvider(fallback: .reply("hello")))])
        let (_, chunks) = try await collect(try await f.mesh.routeStream(request()).chunks)
        #expect(chunks.allSatisfy { $0.usage == nil })
    }

    @Test func failuresBeforeTheFirstByteAreInvisible() async throws {
        let primary = MockProvider(script: [.fail(.serverError, status: 503)], fallback: .fail(.connection))
        let backup = MockProvider(fallback: .reply("from backup"))
        let f = try MeshFixture(models: [("a", primary), ("b", backup)])
        let routed = try await f.mesh.routeStream(request())
        #expect(routed.modelID == "b")
        #expect(try await collect(routed.chunks).0 == "from backup")
        #expect(f.recorder.events(.modelRotated).count == 1)
    }

    @Test func slowFirstTokenFailsOver() async throws {
        let primary = MockProvider(script: [.stream(["late"], firstDelay: .seconds(30))])
        let backup = MockProvider(fallback: .reply("fast"))
        let f = try MeshFixture(models: [("a", primary), ("b", backup)]) {
            $0.stream.firstTokenTimeout = .milliseconds(100)
        }
        let routed = try await f.mesh.routeStream(request())
        #expect(routed.modelID == "b")
        #expect(routed.attempts.first?.errorClass == "timeout")
        #expect(primary.callCount == 1)  // a silent upstream is not retried on the same model
        #expect(try await collect(routed.chunks).0 == "fast")
    }

    @Test func midStreamCutContinuesOnAPrefillModel() async throws {
        let primary = MockProvider(script: [.stream(["Once", " upon", " a", " time"], cutAfter: 2)])
        let backup = MockProvider(fallback: .stream([" a", " time"]))
        let f = try MeshFixture(models: [("a", primary), ("b", backup)]) { _ in } configure: { config in
            config.models[1].features = [.prefill]
        }
        let routed = try await f.mesh.routeStream(request())
        let (text, chunks) = try await collect(routed.chunks)
        #expect(text == "Once upon a time")
        // The resumed model got the delivered text as an assistant prefill.
        let resumed = try #require(backup.calls.last?.request)
        #expect(resumed.messages.last?.role == "assistant")
        #expect(resumed.messages.last?.content?.text == "Once upon")
        // Exactly one assistant role chunk reached the caller.
        #expect(chunks.filter { $0.choices.first?.delta.role != nil }.count == 1)
        #expect(f.recorder.events(.modelRotated).first?.metadata["reason"] == "stream_interrupted")
    }

    @Test func midStreamCutWithoutAPrefillModelEndsWithAnError() async throws {
        let primary = MockProvider(script: [.stream(["Once", " upon", " a", " time"], cutAfter: 2)])
        let backup = MockProvider(fallback: .reply("never"))
        let f = try MeshFixture(models: [("a", primary), ("b", backup)])
        let routed = try await f.mesh.routeStream(request())
        var text = ""
        await #expect {
            for try await chunk in routed.chunks { text += chunk.choices.first?.delta.content ?? "" }
        } throws: { ($0 as? ModelMeshError)?.code == .streamInterrupted }
        #expect(text == "Once upon")
        #expect(backup.callCount == 0)
    }

    @Test func midStreamFailPolicyEndsWithAnInBandError() async throws {
        let primary = MockProvider(script: [.stream(["a", "b", "c"], cutAfter: 1)])
        let backup = MockProvider(fallback: .reply("x"))
        let f = try MeshFixture(models: [("a", primary), ("b", backup)]) { $0.stream.midStream = .fail } configure: {
            $0.models[1].features = [.prefill]
        }
        let routed = try await f.mesh.routeStream(request())
        await #expect {
            _ = try await collect(routed.chunks)
        } throws: { error in
            let e = error as? ModelMeshError
            return e?.code == .streamInterrupted && e?.message.contains("stream_interrupted") == true
        }
        #expect(backup.callCount == 0)
    }

    @Test func midStreamStallIsCutByTheIdleTimeout() async throws {
        let primary = MockProvider(script: [.stream(["Hello", " wor", "ld"], stallAfter: 1)])
        let backup = MockProvider(fallback: .stream([" wor", "ld"]))
        let f = try MeshFixture(models: [("a", primary), ("b", backup)]) {
            $0.stream.idleTimeout = .milliseconds(100)
        } configure: { $0.models[1].features = [.prefill] }
        let routed = try await f.mesh.routeStream(request())
        #expect(try await collect(routed.chunks).0 == "Hello world")
        #expect(f.recorder.events(.modelRotated).first?.metadata["reason"] == "timeout")
    }

    @Test func streamWithoutUsageKeepsItsReservation() async throws {
        let primary = MockProvider(fallback: .stream(["a", "b"], usage: nil))
        let f = try MeshFixture(models: [("a", primary)]) { _ in } configure: { config in
            config.models[0].pricing = ModelPricing(inputPerMillion: 1_000, outputPerMillion: 1_000)
            config.budget = BudgetLimits(daily: 100)
        }
        var r = request()
        r.maxTokens = 100
        _ = try await collect(try await f.mesh.routeStream(r).chunks)
        let spent = f.mesh.budget.spend(of: "global", now: f.clock.now()).daily
        #expect(spent > 0.1)  // ~104 tokens reserved at $0.001 each, kept as spent
    }

    @Test func cancellingTheConsumerStopsTheUpstream() async throws {
        let primary = MockProvider(fallback: .stream(["a", "b", "c"], stallAfter: 1))
        let f = try MeshFixture(models: [("a", primary)]) { $0.stream.idleTimeout = .seconds(60) }
        let routed = try await f.mesh.routeStream(request())
        let (started, signal) = AsyncStream<Void>.makeStream()
        let consumer = Task {
            var count = 0
            for try await _ in routed.chunks {
                count += 1
                if count == 2 { signal.yield() }  // the stall comes next
            }
            return count
        }
        for await _ in started { break }
        consumer.cancel()
        let outcome = await consumer.result
        // The consumer ended promptly instead of waiting out the 60s idle timeout.
        switch outcome {
        case .success(let n): #expect(n <= 2)
        case .failure(let e): #expect(e is CancellationError || (e as? ModelMeshError)?.code == .cancelled)
        }
    }
}

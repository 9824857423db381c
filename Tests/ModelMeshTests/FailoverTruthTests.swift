import Foundation
import ModelMesh
import ModelMeshTesting
import Testing

/// Failover cases where the engine used to give up early or report the wrong error.
@Suite struct FailoverTruthTests {
    func streamRequest() -> ChatCompletionRequest {
        ChatCompletionRequest(model: "chat", messages: [.user("tell me")], stream: true)
    }

    @Test func contextLengthFailoverReachesAModelWithAnUndeclaredWindow() async throws {
        let tooLong = MockProvider(fallback: .fail(.contextLength, status: 400, message: "maximum context length"))
        let smaller = MockProvider(fallback: .reply("never"))
        let undeclared = MockProvider(fallback: .reply("fits"))
        let f = try MeshFixture(models: [("a", tooLong), ("b", smaller), ("c", undeclared)]) { _ in } configure: {
            $0.models[0].contextWindow = 8_000
            $0.models[1].contextWindow = 4_000
        }
        let answer = try await f.ask()
        #expect(answer.modelID == "c")
        #expect(answer.value.text == "fits")
        #expect(smaller.callCount == 0)  // known to be smaller: never sent
        #expect(tooLong.callCount == 1)  // never resent unchanged
    }

    @Test func contextLengthFailoverTriesLargerWindowsBeforeUndeclaredOnes() async throws {
        let tooLong = MockProvider(fallback: .fail(.contextLength, status: 400))
        let undeclared = MockProvider(fallback: .reply("unknown window"))
        let larger = MockProvider(fallback: .reply("larger window"))
        let f = try MeshFixture(models: [("a", tooLong), ("b", undeclared), ("c", larger)]) { _ in } configure: {
            $0.models[0].contextWindow = 8_000
            $0.models[2].contextWindow = 128_000
        }
        let answer = try await f.ask()
        #expect(answer.modelID == "c")
        #expect(undeclared.callCount == 0)
    }

    @Test func aRejectedPrefillIsRememberedAndTheNextPrefillModelContinues() async throws {
        let primary = MockProvider(script: [.stream(["Once", " upon", " a", " time"], cutAfter: 2)])
        let refuses = MockProvider(
            fallback: .fail(.invalidRequest, status: 400, message: "assistant prefill is not supported"))
        let continues = MockProvider(fallback: .stream([" a", " time"]))
        let f = try MeshFixture(models: [("a", primary), ("b", refuses), ("c", continues)]) { _ in } configure: {
            $0.models[1].features = [.prefill]
            $0.models[2].features = [.prefill]
        }
        let routed = try await f.mesh.routeStream(streamRequest())
        var text = ""
        for try await chunk in routed.chunks { text += chunk.choices.first?.delta.content ?? "" }
        #expect(text == "Once upon a time")
        #expect(refuses.callCount == 1)
        let members = f.mesh.describe().pools[0].members
        #expect(members.first { $0.modelID == "b" }?.rejectsPrefill == true)
        #expect(members.first { $0.modelID == "c" }?.rejectsPrefill == false)
        // A refused prefill is not the model's ill health.
        #expect(members.first { $0.modelID == "b" }?.consecutiveFailures == 0)

        // The next broken stream does not ask the model that refused.
        primary.enqueue(.stream(["Once", " upon", " a", " time"], cutAfter: 2))
        let again = try await f.mesh.routeStream(streamRequest())
        for try await _ in again.chunks {}
        #expect(refuses.callCount == 1)
    }

    @Test func aRejectedPrefillNeverMasksTheInterruption() async throws {
        let primary = MockProvider(
            script: [.stream(["Once", " upon", " a", " time"], cutAfter: 2)])
        let refuses = MockProvider(
            fallback: .fail(.invalidRequest, status: 400, message: "assistant prefill is not supported"))
        let f = try MeshFixture(models: [("a", primary), ("b", refuses)]) { _ in } configure: {
            $0.models[1].features = [.prefill]
        }
        let routed = try await f.mesh.routeStream(streamRequest())
        var text = ""
        var caught: ModelMeshError?
        do {
            for try await chunk in routed.chunks { text += chunk.choices.first?.delta.content ?? "" }
        } catch {
            caught = error as? ModelMeshError
        }
        let error = try #require(caught)
        #expect(text == "Once upon")
        #expect(error.code == .streamInterrupted)
        #expect(error.message.contains("without [DONE]"))
        #expect(!error.message.contains("prefill is not supported"))
        #expect(error.message.contains("tried b"))
    }

    @Test func abandonedStreamsLeaveNoReservationBehind() async throws {
        let price = ModelPricing(inputPerMillion: 1_000, outputPerMillion: 1_000)
        let f = try MeshFixture(models: [("a", MockProvider(fallback: .stream(["one", " two", " three", " four"])))]) {
            _ in
        } configure: {
            $0.models[0].pricing = price
            $0.budget = BudgetLimits(daily: 1_000)
        }
        for _ in 0..<200 {
            let routed = try await f.mesh.routeStream(streamRequest())
            var iterator = routed.chunks.makeAsyncIterator()
            _ = try await iterator.next()
            // The caller lets go after the first chunk without cancelling anything.
        }
        let spend = f.mesh.budget.spend(of: "global", now: f.clock.now())
        #expect(spend.reserved == 0)
        #expect(spend.daily > 0)  // settled: its estimated prompt and the output it delivered
        let logs = f.recorder.logs.filter { $0.deliveryMode == "streaming" }
        #expect(logs.count == 200)
        #expect(logs.allSatisfy { $0.status == 499 })
        #expect(f.mesh.statistics.snapshot()["pool:chat"]?.requestsTotal == 200)
    }
}

import Foundation
import ModelMesh
import ModelMeshTesting
import Testing

@Suite struct BudgetAndFilterTests {
    static let price = ModelPricing(inputPerMillion: 1_000, outputPerMillion: 2_000)  // $0.001 / $0.002 per token

    @Test func aRequestThatWouldBreachTheGlobalBudgetIsRefusedBeforeAnyCall() async throws {
        let primary = MockProvider()
        let f = try MeshFixture(models: [("a", primary)]) { _ in } configure: { config in
            config.models[0].pricing = Self.price
            config.budget = BudgetLimits(daily: 0.5)
        }
        // ~3 input tokens + 1000 max output at $0.002 = ~$2 > $0.50.
        await #expect {
            _ = try await f.ask(maxTokens: 1000)
        } throws: { error in
            let e = error as? ModelMeshError
            return e?.code == .budgetExceeded && e?.status == 402 && e?.limit == "global.daily"
                && e?.remaining == 0.5
        }
        #expect(primary.callCount == 0)
    }

    @Test func perRequestLimit() async throws {
        let primary = MockProvider()
        let f = try MeshFixture(models: [("a", primary)]) { _ in } configure: { config in
            config.models[0].pricing = Self.price
            config.budget = BudgetLimits(perRequest: 0.1)
        }
        await #expect(throws: ModelMeshError.self) { _ = try await f.ask(maxTokens: 100) }
        #expect(primary.callCount == 0)
        _ = try await f.ask(maxTokens: 10)  // ~$0.03
        #expect(primary.callCount == 1)
    }

    @Test func spendSettlesFromRealUsageAndAccumulates() async throws {
        let primary = MockProvider(fallback: .reply("ok", usage: Usage(promptTokens: 100, completionTokens: 50)))
        let f = try MeshFixture(models: [("a", primary)]) { _ in } configure: { config in
            config.models[0].pricing = Self.price
            config.budget = BudgetLimits(daily: 1.0)
        }
        _ = try await f.ask(maxTokens: 60)  // reserve ~$0.12, settle $0.2
        let spend = f.mesh.budget.spend(of: "global", now: f.clock.now())
        #expect(abs(spend.daily - 0.2) < 1e-9)
        for _ in 0..<3 { _ = try await f.ask(maxTokens: 60) }
        // $0.8 spent; the next request's reservation (~$0.12) still fits, the one after does not.
        _ = try await f.ask(maxTokens: 60)
        await #expect(throws: ModelMeshError.self) { _ = try await f.ask(maxTokens: 60) }
        // A new UTC day resets the daily limit.
        f.clock.advance(by: .seconds(86_400))
        _ = try await f.ask(maxTokens: 60)
    }

    @Test func concurrentRequestsCannotOverspendTogether() async throws {
        let primary = MockProvider(fallback: .delay(.milliseconds(10), then: .reply("ok", usage: Usage(promptTokens: 1, completionTokens: 100))))
        let f = try MeshFixture(models: [("a", primary)]) { _ in } configure: { config in
            config.models[0].pricing = Self.price
            config.budget = BudgetLimits(daily: 1.0)
        }
        // Each reserves ~$0.2: at most five fit at once.
        let results = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 { group.addTask { (try? await f.ask(maxTokens: 100)) != nil } }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count <= 5)
        #expect(f.mesh.budget.spend(of: "global", now: f.clock.now()).daily <= 1.0 + 1e-9)
    }

    @Test func modelsOfAProviderOverBudgetAreFilteredOut() async throws {
        let a = MockProvider()
        let b = MockProvider(fallback: .reply("b"))
        let f = try MeshFixture(models: [("a", a), ("b", b)]) { _ in } configure: { config in
            config.models[0].pricing = Self.price
            config.providers[0].budget = BudgetLimits(daily: 0.01)
        }
        let result = try await f.ask(maxTokens: 100)
        #expect(result.modelID == "b")
        #expect(a.callCount == 0)
        let explanation = try f.mesh.explain(ChatCompletionRequest(model: "chat", messages: [.user("hi")], maxTokens: 100))
        #expect(explanation.filteredOut.map(\.reason) == ["budget_exceeded"])
        #expect(explanation.filteredOut.first?.detail.contains("provider:p-a.daily") == true)
    }

    @Test func filterStageRecordsWhyEachModelWasDropped() throws {
        let f = try MeshFixture(models: [
            ("nostream", MockProvider()), ("novision", MockProvider()), ("tiny", MockProvider()), ("ok", MockProvider()),
        ]) { _ in } configure: { config in
            config.models[0].delivery.streaming = false
            config.models[1].features = [.toolCalling]
            config.models[2].contextWindow = 100
            config.models[3].features = [.vision, .toolCalling]
        }
        var request = ChatCompletionRequest(
            model: "chat-completion",
            messages: [ChatMessage(role: "user", content: .parts([.text(String(repeating: "x", count: 800)), .imageURL(url: "https://x/y.png", detail: nil)]))],
            stream: true)
        request.maxTokens = 50
        let e = try f.mesh.explain(request)
        #expect(e.poolID == "chat")
        #expect(e.resolvedAs == "capability")
        #expect(e.chain.map(\.modelID) == ["ok"])
        #expect(e.filteredOut.map(\.modelID) == ["nostream", "novision", "tiny"])
        #expect(e.filteredOut.map(\.reason) == ["delivery_mode", "missing_feature", "context_window"])
        #expect(e.filteredOut[1].detail.contains("vision"))
        #expect(e.text.contains("1. ok via p-ok"))
    }

    @Test func explainSendsNothingAndMovesNoStrategyState() async throws {
        let a = MockProvider()
        let b = MockProvider()
        let f = try MeshFixture(models: [("a", a), ("b", b)]) { $0.strategy = "round-robin" }
        let request = ChatCompletionRequest(model: "chat", messages: [.user("x")])
        for _ in 0..<3 { #expect(try f.mesh.explain(request).chain.map(\.modelID) == ["a", "b"]) }
        #expect(a.callCount + b.callCount == 0)
        #expect(try await f.ask().modelID == "a")
    }

    @Test func noActiveModelIs503WithReasons() async throws {
        let f = try MeshFixture(models: [("a", MockProvider())])
        try f.mesh.deactivate(model: "a")
        await #expect {
            _ = try await f.ask()
        } throws: { error in
            let e = error as? ModelMeshError
            return e?.code == .noActiveModel && e?.status == 503 && e?.message.contains("a: in standby (manual)") == true
        }
    }

    @Test func requestLogEntriesCarryTheOutcome() async throws {
        let primary = MockProvider(script: [.fail(.serverError, status: 503)], fallback: .reply("ok", usage: Usage(promptTokens: 7, completionTokens: 3)))
        let f = try MeshFixture(models: [("a", primary)]) { _ in } configure: { config in
            config.models[0].pricing = Self.price
        }
        let routed = try await f.mesh.route(
            ChatCompletionRequest(model: "chat", messages: [.user("secret question")]), options: RoutingOptions(requestID: "req-1"))
        #expect(routed.requestID == "req-1")
        let entry = try #require(f.recorder.logs.last)
        #expect(entry.requestID == "req-1")
        #expect(entry.status == 200)
        #expect(entry.tokensIn == 7)
        #expect(entry.tokensOut == 3)
        #expect(abs((entry.cost ?? 0) - 0.013) < 1e-9)
        #expect(entry.attempts.count == 2)
        #expect(entry.prompt == nil)  // metadata level keeps no content
    }
}

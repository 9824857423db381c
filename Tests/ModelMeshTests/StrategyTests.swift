import Foundation
import ModelMesh
import ModelMeshTesting
import Testing

@Suite struct StrategyTests {
    let now = Date(timeIntervalSince1970: 1_768_478_400)

    func candidates(_ ids: [String]) -> [SelectionCandidate] {
        ids.enumerated().map { SelectionCandidate(modelID: $1, providerID: "p-\($1)", position: $0) }
    }

    func context(session: String? = nil) -> SelectionContext {
        SelectionContext(poolID: "chat", sessionKey: session, now: now, estimatedInputTokens: 1000, maxOutputTokens: 500)
    }

    @Test func stickUntilFailureSticksThenReturnsToARecoveredPrimary() {
        let s = StickUntilFailureStrategy()
        #expect(s.order(candidates(["a", "b", "c"]), context: context()).map(\.modelID) == ["a", "b", "c"])
        s.didSucceed(modelID: "b", context: context())
        #expect(s.order(candidates(["a", "b", "c"]), context: context()).map(\.modelID) == ["b", "a", "c"])
        // The primary's recovery probe comes before the sticky model.
        var withProbe = candidates(["a", "b", "c"])
        withProbe[0].isProbe = true
        #expect(s.order(withProbe, context: context()).map(\.modelID) == ["a", "b", "c"])
        s.didActivate(modelID: "a")
        #expect(s.order(candidates(["a", "b", "c"]), context: context()).map(\.modelID) == ["a", "b", "c"])
    }

    @Test func prioritySelectionFollowsModelThenProviderPriority() {
        var pool = PoolConfiguration(id: "chat")
        pool.modelPriority = ["c"]
        pool.providerPriority = ["p-b"]
        let s = PrioritySelectionStrategy(pool: pool)
        #expect(s.order(candidates(["a", "b", "c", "d"]), context: context()).map(\.modelID) == ["c", "b", "a", "d"])
    }

    @Test func roundRobinStartsOneFurtherEachRequest() {
        let s = RoundRobinStrategy()
        let firsts = (0..<6).map { _ in s.order(candidates(["a", "b", "c"]), context: context()).first?.modelID }
        #expect(firsts == ["a", "b", "c", "a", "b", "c"])
        #expect(s.order(candidates(["a", "b", "c"]), context: context()).map(\.modelID) == ["a", "b", "c"])
        #expect(s.order(candidates(["a", "b", "c"]), context: context()).map(\.modelID) == ["b", "c", "a"])
    }

    @Test func costFirstOrdersByPriceForThisRequest() {
        var list = candidates(["pricey", "cheap", "unpriced", "mid"])
        list[0].pricing = ModelPricing(inputPerMillion: 10, outputPerMillion: 30)
        list[1].pricing = ModelPricing(inputPerMillion: 0.1, outputPerMillion: 0.4)
        list[3].pricing = ModelPricing(inputPerMillion: 1, outputPerMillion: 2)
        #expect(CostFirstStrategy().order(list, context: context()).map(\.modelID) == ["cheap", "mid", "pricey", "unpriced"])
    }

    @Test func latencyFirstPrefersFastAndProbesUntestedWithoutFavouringThem() {
        let s = LatencyFirstStrategy(probeEvery: 3)
        var list = candidates(["slow", "new", "fast"])
        list[0].latency = 2.0
        list[2].latency = 0.2
        let orders = (0..<3).map { _ in s.order(list, context: context()).map(\.modelID) }
        #expect(orders[0] == ["fast", "slow", "new"])
        #expect(orders[1] == ["fast", "slow", "new"])
        #expect(orders[2] == ["new", "fast", "slow"])
    }

    @Test func sessionStickinessKeepsASessionOnOneModel() {
        let s = SessionStickinessStrategy(timeout: .seconds(60))
        let first = s.order(candidates(["a", "b", "c"]), context: context(session: "user-1")).first?.modelID
        // Stable before any success (hash placement) …
        #expect(s.order(candidates(["a", "b", "c"]), context: context(session: "user-1")).first?.modelID == first)
        s.didSucceed(modelID: "c", context: context(session: "user-1"))
        // … and bound to the model that served it afterwards.
        #expect(s.order(candidates(["a", "b", "c"]), context: context(session: "user-1")).first?.modelID == "c")
        // The binding expires.
        var later = context(session: "user-1")
        later.now = now.addingTimeInterval(120)
        #expect(s.boundModel(session: "user-1", now: later.now) == nil)
        // Sessions spread over the models.
        let placed = Set((0..<50).map { s.order(candidates(["a", "b", "c"]), context: context(session: "s\($0)")).first?.modelID })
        #expect(placed.count == 3)
        // No session: pool order.
        #expect(s.order(candidates(["a", "b", "c"]), context: context()).map(\.modelID) == ["a", "b", "c"])
    }

    @Test func rateLimitAwareMovesAwayBeforeTheLimit() {
        let s = RateLimitAwareStrategy(policy: { var p = RateLimitPolicy(); p.threshold = 0.8; p.maxRequestsPerMinute = 5; return p }())
        var list = candidates(["a", "b", "c"])
        list[0].rateLimit = RateLimitStatus(limitRequests: 100, remainingRequests: 10)  // 90% used
        list[1].requestsLastMinute = 5  // at the local cap
        #expect(s.order(list, context: context()).map(\.modelID) == ["c", "a", "b"])
        // Once the reported window reset, the old numbers no longer count.
        list[0].rateLimit?.resetRequestsAt = now.addingTimeInterval(-1)
        #expect(s.order(list, context: context()).map(\.modelID) == ["a", "c", "b"])
    }

    @Test func loadBalancedSplitsByWeight() {
        let s = LoadBalancedStrategy()
        var list = candidates(["a", "b", "c"])
        list[0].weight = 3
        list[1].weight = 1
        list[2].weight = 0
        var counts: [String: Int] = [:]
        for _ in 0..<400 { counts[s.order(list, context: context()).first?.modelID ?? "", default: 0] += 1 }
        #expect(counts["a"] == 300)
        #expect(counts["b"] == 100)
        #expect(counts["c"] == nil)
    }

    /// Candidates reporting `remaining` of `limit` requests left.
    func withRateLimits(_ reports: [(remaining: Int, limit: Int)?]) -> [SelectionCandidate] {
        var list = candidates(reports.indices.map { "m\($0)" })
        for (i, report) in reports.enumerated() {
            guard let report else { continue }
            list[i].rateLimit = RateLimitStatus(limitRequests: report.limit, remainingRequests: report.remaining)
        }
        return list
    }

    func firstCounts(_ s: LoadBalancedStrategy, _ list: [SelectionCandidate], requests: Int) -> [String: Int] {
        var counts: [String: Int] = [:]
        for _ in 0..<requests { counts[s.order(list, context: context()).first?.modelID ?? "", default: 0] += 1 }
        return counts
    }

    @Test func loadBalancedRelativeModeFollowsTheFractionLeft() {
        // 80 %, 70 % and 40 % of the limit left: 42 %, 37 % and 21 % of the requests.
        let list = withRateLimits([(800, 1000), (70, 100), (2000, 5000)])
        let counts = firstCounts(LoadBalancedStrategy(mode: .relative), list, requests: 190)
        #expect(counts == ["m0": 80, "m1": 70, "m2": 40])
    }

    @Test func loadBalancedAbsoluteModeFollowsTheRequestsLeft() {
        // 400, 700 and 120 requests left: 33 %, 57 % and 10 %.
        let list = withRateLimits([(400, 1000), (700, 10_000), (120, 200)])
        let counts = firstCounts(LoadBalancedStrategy(mode: .absolute), list, requests: 1220)
        #expect(counts == ["m0": 400, "m1": 700, "m2": 120])
    }

    @Test func loadBalancedModesCombineWithWeightsAndFillUnknownWithTheMedian() {
        // m2 has no report: it counts at the median capacity (0.5) of m0 (0.8) and m1 (0.2).
        var list = withRateLimits([(80, 100), (20, 100), nil])
        list[0].weight = 2
        let s = LoadBalancedStrategy()
        #expect(s.shares(of: list, now: now) == [1.6, 0.2, 0.5])
        #expect(LoadBalancedStrategy(mode: .absolute).shares(of: list, now: now) == [160, 20, 50])
        // A reported window that has reset says nothing.
        list[1].rateLimit?.resetRequestsAt = now.addingTimeInterval(-1)
        #expect(s.shares(of: list, now: now) == [1.6, 0.8, 0.8])
        // Without any report both modes split by weight alone.
        let plain = candidates(["a", "b"])
        #expect(LoadBalancedStrategy(mode: .absolute).shares(of: plain, now: now) == [1, 1])
    }

    @Test func loadBalancedModeComesFromThePool() throws {
        var pool = PoolConfiguration(id: "chat", strategy: "load-balanced")
        pool.balanceMode = .absolute
        let strategy = try #require(StrategyRegistry.builtIn.make(for: pool) as? LoadBalancedStrategy)
        #expect(strategy.mode == .absolute)
    }

    @Test func registryResolvesIDsAndShortNamesAndRejectsUnknown() {
        let registry = StrategyRegistry.builtIn
        for name in ConnectorID.strategyNames {
            #expect(registry.contains(name))
            #expect(registry.contains("modelmesh.\(name).v1"))
            #expect(registry.contains("rotation.modelmesh.\(name).v1"))
        }
        #expect(!registry.contains("fastest-first"))
        #expect(throws: ModelMeshError.self) {
            _ = try MeshFixture(models: [("a", MockProvider())]) { $0.strategy = "fastest-first" }
        }
    }

    @Test func customStrategiesPlugIn() async throws {
        struct Reverse: RotationStrategy {
            func order(_ c: [SelectionCandidate], context: SelectionContext) -> [SelectionCandidate] {
                c.sorted { $0.position > $1.position }
            }
        }
        var registry = StrategyRegistry.builtIn
        registry.register("acme.reverse.v1") { _ in Reverse() }
        var config = MeshConfiguration()
        var providers = ProviderRegistry()
        for id in ["a", "b"] {
            config.providers.append(ProviderConfiguration(id: "p-\(id)"))
            config.models.append(ModelConfiguration(id: id, provider: "p-\(id)", capabilities: ["generation.text-generation.chat-completion"]))
            providers.register(provider: "p-\(id)", instance: MockProvider(fallback: .reply(id)))
        }
        config.pools = [PoolConfiguration(id: "chat", capability: "chat-completion", strategy: "acme.reverse.v1")]
        let mesh = try Mesh(configuration: config, providers: providers, strategies: registry)
        #expect(try await mesh.chat.completions.create(ChatCompletionRequest(model: "chat", messages: [.user("x")])).text == "b")
    }

    @Test func roundRobinThroughTheMeshSpreadsRequests() async throws {
        let a = MockProvider()
        let b = MockProvider()
        let f = try MeshFixture(models: [("a", a), ("b", b)]) { $0.strategy = "round-robin" }
        for _ in 0..<4 { _ = try await f.ask() }
        #expect(a.callCount == 2)
        #expect(b.callCount == 2)
        #expect(f.recorder.events(.modelRotated).isEmpty)  // different requests, no rotation
    }
}

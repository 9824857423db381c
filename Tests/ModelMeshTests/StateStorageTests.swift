import Foundation
import ModelMesh
import ModelMeshTesting
import Testing

@Suite struct StateStorageTests {
    @Test func modelStateAndSpendSurviveARestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mm-state-\(UUID().uuidString)").path
        let storage = LocalFileStateStorage(path: directory)
        let price = ModelPricing(inputPerMillion: 1_000, outputPerMillion: 1_000)

        func makeMesh(_ primary: MockProvider, _ clock: TestClock) throws -> Mesh {
            var config = MeshConfiguration()
            config.observability.connectors = []
            var registry = ProviderRegistry()
            for (id, mock) in [("a", primary), ("b", MockProvider())] {
                config.providers.append(ProviderConfiguration(id: "p-\(id)"))
                config.models.append(
                    ModelConfiguration(
                        id: id, provider: "p-\(id)", capabilities: ["generation.text-generation.chat-completion"],
                        pricing: price))
                registry.register(provider: "p-\(id)", instance: mock)
            }
            config.pools = [PoolConfiguration(id: "chat", capability: "chat-completion")]
            config.budget = BudgetLimits(daily: 100)
            return try Mesh(configuration: config, providers: registry, clock: clock, storage: storage)
        }

        let clock = TestClock()
        let first = try makeMesh(MockProvider(script: Array(repeating: .fail(.serverError, status: 503), count: 3)), clock)
        _ = try await first.route(ChatCompletionRequest(model: "chat", messages: [.user("hi")]))
        let spent = first.budget.spend(of: "global", now: clock.now()).daily
        #expect(spent > 0)
        await first.shutdown()

        let second = try makeMesh(MockProvider(), clock)
        let member = second.describe().pools[0].members[0]
        #expect(member.state == .standby)
        #expect(member.reason == "error_threshold")
        #expect(member.cooldownUntil != nil)
        #expect(second.budget.spend(of: "global", now: clock.now()).daily == spent)
        #expect(try await second.route(ChatCompletionRequest(model: "chat", messages: [.user("hi")])).modelID == "b")
    }

    @Test func inMemoryStorageRoundTrips() throws {
        let storage = InMemoryStateStorage()
        #expect(try storage.load(key: "k") == nil)
        try storage.save(key: "k", data: Data("x".utf8))
        #expect(try storage.load(key: "k") == Data("x".utf8))
    }
}

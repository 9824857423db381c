import AsyncHTTPClient
import Foundation
import ModelMesh
import ModelMeshProviders
import ModelMeshServer
import ModelMeshTesting
import Testing

@Suite("Budget reservations in /metrics", .timeLimit(.minutes(1)))
struct BudgetReservationMetricsTests {
    /// The value of `modelmesh_budget_reserved_usd{scope="<scope>"}` in an exposition.
    static func reserved(_ text: String, scope: String) -> Double? {
        let prefix = #"modelmesh_budget_reserved_usd{scope="\#(scope)"} "#
        return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) }
    }

    @Test("A request held upstream shows its reservation per scope; once it is answered the gauge is 0")
    func reservationWhileInFlight() async throws {
        let alpha = MockProvider(script: [.delay(.seconds(3), then: .reply("late"))])
        var mesh = twoModels(alpha)
        mesh.configure = { config in
            config.budget = BudgetLimits(daily: 100)
            for i in config.models.indices {
                config.models[i].pricing = ModelPricing(inputPerMillion: 10, outputPerMillion: 30)
            }
        }
        try await withProxy(mesh) { client in
            async let answer = client.send(
                .POST, "/v1/chat/completions",
                body: #"{"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1000}"#)
            // Wait until the request is upstream (the mock saw it), then scrape within the 3 s it is held.
            let deadline = ContinuousClock.now + .seconds(5)
            while alpha.callCount == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(alpha.callCount == 1)
            let during = try await client.send(.GET, "/metrics")
            #expect(during.status == 200)
            let held = try #require(Self.reserved(during.body, scope: "global"), "\(during.body)")
            // 1000 output tokens at $30 per million is at least $0.03.
            #expect(held >= 0.03)

            let reply = try await answer
            #expect(reply.status == 200)
            let after = try await client.send(.GET, "/metrics")
            #expect(Self.reserved(after.body, scope: "global") == 0)
        }
    }
}

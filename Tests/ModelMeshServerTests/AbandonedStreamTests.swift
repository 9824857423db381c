import AsyncHTTPClient
import Foundation
import ModelMesh
import ModelMeshProviders
import ModelMeshTesting
import NIOCore
import Synchronization
import Testing

/// Streams whose clients hang up after the first chunk, through the proxy, under a budget.
@Suite("Abandoned streams", .timeLimit(.minutes(1)))
struct AbandonedStreamTests {
    /// Hands every request log entry to a waiting test.
    final class LogWaiter: ObservabilityConnector {
        let entries: AsyncStream<RequestLogEntry>
        private let continuation: AsyncStream<RequestLogEntry>.Continuation
        init() { (entries, continuation) = AsyncStream.makeStream() }
        func emit(_ event: RoutingEvent) throws {}
        func log(_ entry: RequestLogEntry) throws { continuation.yield(entry) }
    }

    @Test func twoHundredStreamsAbandonedAfterTheFirstChunkHoldNoReservation() async throws {
        let fake = try await FakeUpstream.start()
        let transport = HTTPTransport()
        let waiter = LogWaiter()
        do {
            // Long enough that every client hangs up while its stream is still running.
            fake.setDefault(
                .openAIStream(pieces: Array(repeating: " word", count: 200), delay: .milliseconds(20)),
                for: "/v1/chat/completions")
            let provider = try OpenAICompatibleProvider(
                configuration: ProviderConfiguration(
                    id: "p-openai.gpt-4o", connector: "openai.llm.v1", baseURL: fake.url("/v1"),
                    apiKey: Secret("sk-test")),
                transport: transport)
            var testMesh = TestMesh(models: [("openai.gpt-4o", provider)])
            testMesh.connectors = [waiter]
            testMesh.configure = { config in
                // Each stream reserves $0.10 of $1,000: a leak of even a few would show.
                config.models[0].pricing = ModelPricing(inputPerMillion: 0, outputPerMillion: 1_000)
                config.budget = BudgetLimits(daily: 1_000)
            }
            try await withProxy(testMesh) { client in
                let body = #"{"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100, "stream": true}"#
                for _ in 0..<20 {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for _ in 0..<10 {
                            group.addTask {
                                let own = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
                                do {
                                    let response = try await own.execute(
                                        client.makeRequest(.POST, "/v1/chat/completions", body: body),
                                        timeout: .seconds(30))
                                    var chunks = response.body.makeAsyncIterator()
                                    _ = try await chunks.next()
                                } catch {
                                    try? await own.shutdown()
                                    throw error
                                }
                                // Hang up mid-stream.
                                try await own.shutdown()
                            }
                        }
                        try await group.waitForAll()
                    }
                }
                // Every stream ends in a request log entry: wait for all 200.
                var logged: [RequestLogEntry] = []
                for await entry in waiter.entries {
                    logged.append(entry)
                    if logged.count == 200 { break }
                }
                #expect(logged.allSatisfy { $0.status == 499 })
                let spend = client.mesh.budget.spend(of: "global", now: Date())
                #expect(spend.reserved == 0)
                // Settled, not forgotten, and at what was delivered, not at the worst case: each
                // stream reserved $0.10 (100 tokens) and delivered a few 5-byte chunks before its
                // caller left. Charging the reservations would make $20.
                #expect(spend.daily > 0)
                #expect(spend.daily < 5, "abandoned streams charged \(spend.daily)")
                let state = try await client.send(.GET, "/v1/mesh/state")
                let global = state.json["budgets"]?.arrayValue?.first { $0["scope"]?.stringValue == "global" }
                #expect(global?["reserved"]?.doubleValue == 0)
            }
        } catch {
            try? await transport.shutdown()
            try? await fake.shutdown()
            throw error
        }
        try await transport.shutdown()
        try await fake.shutdown()
    }
}

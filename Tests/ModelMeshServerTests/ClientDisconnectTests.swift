import AsyncHTTPClient
import ModelMesh
import ModelMeshProviders
import ModelMeshTesting
import NIOCore
import Testing

@Suite("Client disconnects", .timeLimit(.minutes(1)))
struct ClientDisconnectTests {
    @Test(
        "A client that hangs up while its request waits upstream cancels the call and frees its budget",
        arguments: ["chat", "stream", "embeddings"])
    func hangUpCancelsUpstream(kind: String) async throws {
        let fake = try await FakeUpstream.start()
        let transport = HTTPTransport()
        do {
            fake.setDefault(.silence)
            let provider = try OpenAICompatibleProvider(
                configuration: ProviderConfiguration(
                    id: "p-openai.gpt-4o", connector: "openai.llm.v1", baseURL: fake.url("/v1"),
                    apiKey: Secret("sk-test"), timeout: .seconds(30)),
                transport: transport)
            var testMesh = TestMesh(models: [("openai.gpt-4o", provider)])
            // One failure that counted would take the only chat model out.
            testMesh.pool = { $0.deactivation.retryLimit = 1 }
            testMesh.configure = { config in
                // $1 an output token and $1.50 a day: a chat with max_tokens 1 reserves $1, so a
                // second one fits only once the first one's reservation is released.
                config.models[0].pricing = ModelPricing(inputPerMillion: 0, outputPerMillion: 1_000_000)
                config.budget = BudgetLimits(daily: 1.5)
                config.models[0].capabilities.append("representation.embeddings.text-embeddings")
                config.pools.append(PoolConfiguration(id: "embed", capability: "text-embeddings"))
            }
            try await withProxy(testMesh) { client in
                let (path, body) =
                    switch kind {
                    case "embeddings": ("/v1/embeddings", #"{"model": "embed", "input": "hi"}"#)
                    default:
                        (
                            "/v1/chat/completions",
                            #"{"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1, "stream": \#(kind == "stream")}"#
                        )
                    }
                let own = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
                let request = client.makeRequest(.POST, path, body: body)
                let call = Task { try await own.execute(request, timeout: .seconds(30)) }
                try await withTimeLimit(.seconds(10)) { await fake.waitForRequests(1) }
                #expect(fake.activity.abortedResponses == 0)

                // Hanging up closes the connection to the proxy ...
                call.cancel()
                _ = try? await call.value
                try await own.shutdown()
                // ... and the proxy closes its upstream call instead of waiting 30 s for it.
                try await withTimeLimit(.seconds(10)) { await fake.waitForAbortedResponses(1) }
                #expect(fake.activity.requests == 1)

                // A cancelled request is not the model's fault, and holds no budget: the model
                // still serves, within the budget.
                fake.setDefault(.openAIChatCompletion(content: "still here"))
                let answer = try await client.send(
                    .POST, "/v1/chat/completions",
                    body: #"{"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}"#)
                #expect(answer.status == 200)
                #expect(answer.json["choices"]?[0]?["message"]?["content"]?.stringValue == "still here")
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

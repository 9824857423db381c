import AsyncHTTPClient
import Foundation
import ModelMesh
import ModelMeshServer
import ModelMeshTesting
import NIOCore
import Testing

@Suite("Chat and embeddings endpoints", .timeLimit(.minutes(1)))
struct ChatEndpointTests {
    @Test("A chat completion answers in JSON with routing headers and an echoed request id")
    func chatJSON() async throws {
        try await withProxy(twoModels(MockProvider(fallback: .reply("hello there")))) { client in
            let response = try await client.chat(headers: [("x-request-id", "req-123")])
            #expect(response.status == 200)
            #expect(response.header("content-type") == "application/json")
            #expect(response.json["choices"]?[0]?["message"]?["content"]?.stringValue == "hello there")
            #expect(response.json["object"]?.stringValue == "chat.completion")
            #expect(response.header("x-request-id") == "req-123")
            #expect(response.header("x-modelmesh-pool") == "chat")
            #expect(response.header("x-modelmesh-model") == "vendor.alpha")
            #expect(response.header("x-modelmesh-provider") == "p-vendor.alpha")
            #expect(response.header("x-modelmesh-attempts") == "1")

            let generated = try await client.chat()
            let id = try #require(generated.header("x-request-id"))
            #expect(id.count == 32 && id.allSatisfy(\.isHexDigit))
        }
    }

    @Test("An upstream answer decoded unchanged is sent on byte for byte; a translated one is encoded")
    func answerBytesPassThrough() async throws {
        let completion = MockProvider.completion("as sent", model: "m", usage: Usage(promptTokens: 2, completionTokens: 2))
        // Spacing and a member order no encoder would produce: only pass-through keeps them.
        let upstreamBytes = Data(
            (#"{ "usage": {"prompt_tokens":2,"completion_tokens":2,"total_tokens":4}, "id":"x", "#
                + #""object":"chat.completion", "created":1, "model":"m", "#
                + #""choices":[{"index":0,"message":{"role":"assistant","content":"as sent"},"finish_reason":"stop"}] }"#)
                .utf8)
        let alpha = MockProvider(script: [.passThrough(completion, body: upstreamBytes), .completion(completion)])
        try await withProxy(twoModels(alpha)) { client in
            let passed = try await client.chat()
            #expect(passed.status == 200)
            #expect(passed.header("content-type") == "application/json")
            #expect(passed.header("x-modelmesh-model") == "vendor.alpha")
            #expect(Data(passed.body.utf8) == upstreamBytes)

            let encoded = try await client.chat()
            #expect(Data(encoded.body.utf8) != upstreamBytes)
            #expect(encoded.json["choices"]?[0]?["message"]?["content"]?.stringValue == "as sent")
        }
    }

    @Test("The request id reaches the engine and the upstream call")
    func requestIDReachesEngine() async throws {
        let alpha = MockProvider(fallback: .stream(["a"]))
        try await withProxy(twoModels(alpha)) { client in
            let response = try await client.chat(stream: true, headers: [("x-request-id", "trace-42")])
            #expect(response.header("x-request-id") == "trace-42")
            let first = try JSONDecoder().decode(JSONValue.self, from: Data(try #require(response.events.first).utf8))
            // The mock provider names its chunks after the engine's request id.
            #expect(first["id"]?.stringValue == "chatcmpl-mock-trace-42")
        }
    }

    @Test("A streamed chat relays chunks in order, then [DONE], with routing headers")
    func chatSSE() async throws {
        let alpha = MockProvider(fallback: .stream(["Hel", "lo", " world"]))
        try await withProxy(twoModels(alpha)) { client in
            let response = try await client.chat(stream: true)
            #expect(response.status == 200)
            #expect(response.header("content-type") == "text/event-stream")
            #expect(response.header("x-modelmesh-model") == "vendor.alpha")
            #expect(response.header("x-modelmesh-attempts") == "1")
            let events = response.events
            #expect(events.last == "[DONE]")
            let chunks = events.dropLast().map { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
            let text = chunks.compactMap { $0?["choices"]?[0]?["delta"]?["content"]?.stringValue }.joined()
            #expect(text == "Hello world")
            #expect(chunks.allSatisfy { $0?["object"]?.stringValue == "chat.completion.chunk" })
        }
    }

    @Test("A stream broken after output began ends with an in-band error event and no [DONE]")
    func midStreamFailure() async throws {
        let alpha = MockProvider(script: [.stream(["one", " two", " three"], cutAfter: 1)])
        // The fallback cannot prefill, so the stream cannot be resumed.
        try await withProxy(twoModels(alpha)) { client in
            let response = try await client.chat(stream: true)
            #expect(response.status == 200)
            let events = response.events
            #expect(!events.contains("[DONE]"))
            let last = try JSONDecoder().decode(JSONValue.self, from: Data(try #require(events.last).utf8))
            #expect(last["error"]?["code"]?.stringValue == "stream_interrupted")
            #expect(last["error"]?["message"]?.stringValue?.isEmpty == false)
            #expect(events.contains { $0.contains("one") })
        }
    }

    @Test("Failover to the next model is visible in x-modelmesh-attempts")
    func failover() async throws {
        let alpha = MockProvider(script: [.fail(.serverError, status: 503)])
        try await withProxy(twoModels(alpha)) { client in
            let response = try await client.chat()
            #expect(response.status == 200)
            #expect(response.header("x-modelmesh-model") == "vendor.beta")
            #expect(response.header("x-modelmesh-attempts") == "2")
            #expect(response.json["choices"]?[0]?["message"]?["content"]?.stringValue == "from beta")
        }
    }

    @Test("Streams fail over before the first chunk, invisibly")
    func streamFailover() async throws {
        let alpha = MockProvider(script: [.fail(.serverError, status: 500)])
        let beta = MockProvider(fallback: .stream(["b"]))
        try await withProxy(twoModels(alpha, beta)) { client in
            let response = try await client.chat(stream: true)
            #expect(response.status == 200)
            #expect(response.header("x-modelmesh-model") == "vendor.beta")
            #expect(response.header("x-modelmesh-attempts") == "2")
            #expect(response.events.last == "[DONE]")
        }
    }

    @Test("Embeddings are routed to an embeddings pool")
    func embeddings() async throws {
        let embedder = MockProvider(fallback: .embedding(dimensions: 4))
        try await withProxy(EmbeddingMesh(base: twoModels(), embedder: embedder).mesh) { client in
            let response = try await client.send(
                .POST, "/v1/embeddings", body: #"{"model": "embed", "input": ["hello", "world"]}"#)
            #expect(response.status == 200)
            #expect(response.json["data"]?.arrayValue?.count == 2)
            #expect(response.json["data"]?[0]?["embedding"]?.arrayValue?.count == 4)
            #expect(response.header("x-modelmesh-pool") == "embed")
            #expect(response.header("x-modelmesh-model") == "vendor.embed")
        }
    }
}

/// A test mesh plus one embeddings model on its own mock provider.
struct EmbeddingMesh {
    var base: TestMesh
    var embedder: MockProvider

    var mesh: TestMesh {
        var mesh = base
        // The embedding model is registered like the chat models, then its capability and
        // pool are fixed up in `configure`.
        mesh.models.append(("vendor.embed", embedder))
        mesh.configure = { config in
            if let index = config.models.firstIndex(where: { $0.id == "vendor.embed" }) {
                config.models[index].capabilities = ["representation.embeddings.text-embeddings"]
            }
            config.pools.append(PoolConfiguration(id: "embed", capability: "text-embeddings"))
        }
        return mesh
    }
}

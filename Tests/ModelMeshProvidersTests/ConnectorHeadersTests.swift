import Foundation
import ModelMesh
import ModelMeshProviders
import ModelMeshTesting
import Testing

@Suite("Request headers every built-in connector sends")
struct ConnectorHeadersTests {
    /// One vendor's connector at the fake, and the fake paths and answers it needs.
    struct Vendor: Sendable, CustomTestStringConvertible {
        var connector: String
        var completePath: String
        var streamPath: String
        var embeddingsPath: String?
        var answer: FakeResponse
        var stream: FakeResponse
        var embedding: FakeResponse?
        var wireName: String

        var testDescription: String { connector }

        func make(_ h: Harness, headers: [String: Secret]) throws -> any ProviderConnector {
            let openAIFamily = !(connector.hasPrefix("anthropic.") || connector.hasPrefix("google."))
            let configuration = ProviderConfiguration(
                id: "p", connector: connector, baseURL: openAIFamily ? h.fake.url("/v1") : h.fake.baseURL,
                apiKey: Secret(Harness.apiKey), timeout: .seconds(5), headers: headers)
            return try #require(try BuiltInProviders.make(configuration, transport: h.transport))
        }

        var target: ModelTarget { ModelTarget(modelID: "p.\(wireName)", wireName: wireName, providerID: "p") }
    }

    static let vendors: [Vendor] = [
        Vendor(
            connector: "openai.llm.v1", completePath: "/v1/chat/completions", streamPath: "/v1/chat/completions",
            embeddingsPath: "/v1/embeddings", answer: .openAIChatCompletion(), stream: .openAIStream(pieces: ["a"]),
            embedding: .json(
                #"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5]}],"model":"m"}"#),
            wireName: "gpt-4o"),
        Vendor(
            connector: "anthropic.claude.v1", completePath: "/v1/messages", streamPath: "/v1/messages",
            embeddingsPath: nil, answer: .anthropicMessage(), stream: .anthropicStream(pieces: ["a"]),
            embedding: nil, wireName: "claude-sonnet-4-20250514"),
        Vendor(
            connector: "google.gemini.v1", completePath: "/v1beta/models/gemini-2.0-flash:generateContent",
            streamPath: "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
            embeddingsPath: "/v1beta/models/gemini-2.0-flash:embedContent", answer: .geminiResponse(),
            stream: .geminiStream(pieces: ["a"]), embedding: .geminiEmbedding([0.5]), wireName: "gemini-2.0-flash"),
    ]

    @Test("x-request-id carries the request's id, and the configured headers go out, on every call", arguments: vendors)
    func requestIDAndConfiguredHeaders(_ vendor: Vendor) async throws {
        try await Harness.run { h in
            h.fake.enqueue(vendor.answer, for: vendor.completePath)
            h.fake.enqueue(vendor.stream, for: vendor.streamPath)
            if let path = vendor.embeddingsPath, let embedding = vendor.embedding {
                h.fake.enqueue(embedding, for: path)
            }
            let provider = try vendor.make(
                h, headers: ["X-Team": Secret("alpha"), "x-gateway-token": Secret("gw-0123456789")])
            let context = AttemptContext(requestID: "req-7f3a", deadline: Date().adding(.seconds(10)))

            _ = try await provider.complete(Harness.request(), target: vendor.target, context: context)
            let (_, error) = await drain(
                try await provider.stream(Harness.request(), target: vendor.target, context: context))
            #expect(error == nil)
            if vendor.embeddingsPath != nil {
                _ = try await provider.embed(
                    EmbeddingRequest(model: "e", input: .text("hi")), target: vendor.target, context: context)
            }

            let recorded = h.fake.requests
            #expect(recorded.count == (vendor.embeddingsPath == nil ? 2 : 3))
            for request in recorded {
                #expect(request.header("x-request-id") == "req-7f3a", "\(request.path)")
                #expect(request.header("x-team") == "alpha", "\(request.path)")
                #expect(request.header("x-gateway-token") == "gw-0123456789", "\(request.path)")
                #expect(request.headers.filter { $0.name.lowercased() == "x-request-id" }.count == 1)
            }
        }
    }

    @Test("Without a request id no x-request-id is sent", arguments: vendors)
    func noRequestID(_ vendor: Vendor) async throws {
        try await Harness.run { h in
            h.fake.enqueue(vendor.answer, for: vendor.completePath)
            let provider = try vendor.make(h, headers: [:])
            let context = AttemptContext(requestID: "", deadline: Date().adding(.seconds(10)))
            _ = try await provider.complete(Harness.request(), target: vendor.target, context: context)
            #expect(h.fake.lastRequest?.header("x-request-id") == nil)
        }
    }
}

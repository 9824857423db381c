import Foundation
import ModelMesh
import ModelMeshProviders
import ModelMeshTesting
import Testing

/// A Gemini safety block, from a fake Gemini upstream through the real connector, the mesh
/// and the proxy over HTTP: the caller gets a 400 `content_policy_violation` naming the reason.
@Suite("Gemini safety blocks through the proxy")
struct GeminiSafetyProxyTests {
    static let generate = "/v1beta/models/gemini-2.0-flash:generateContent"
    static let streamGenerate = "/v1beta/models/gemini-2.0-flash:streamGenerateContent"

    /// A candidate stopped by a filter before any content, as Gemini sends it.
    static func blockedCandidate(_ reason: String) -> JSONValue {
        [
            "candidates": [
                [
                    "finishReason": .string(reason), "index": 0,
                    "safetyRatings": [
                        ["category": "HARM_CATEGORY_HATE_SPEECH", "probability": "HIGH", "blocked": true]
                    ],
                ]
            ],
            "usageMetadata": ["promptTokenCount": 12, "totalTokenCount": 12], "modelVersion": "gemini-2.0-flash",
        ]
    }

    /// A proxy whose pool `chat` holds one Gemini model served by `fake`.
    static func withGeminiProxy(_ fake: FakeUpstream, _ body: (ProxyClient) async throws -> Void) async throws {
        let transport = HTTPTransport()
        do {
            let gemini = try GeminiProvider(
                configuration: ProviderConfiguration(
                    id: "google", connector: "google.gemini.v1", baseURL: fake.baseURL,
                    apiKey: Secret("gm-key-0123456789")),
                transport: transport)
            try await withProxy(TestMesh(models: [("google.gemini-2.0-flash", gemini)]), body)
        } catch {
            try await transport.shutdown()
            throw error
        }
        try await transport.shutdown()
    }

    static func expectContentPolicy(_ response: TestResponse, naming reason: String) {
        #expect(response.status == 400)
        #expect(response.header("content-type")?.hasPrefix("application/json") == true)
        #expect(response.json["error"]?["code"] == "content_policy_violation")
        let message = response.json["error"]?["message"]?.stringValue ?? ""
        #expect(message.contains(reason), "message: \(message)")
    }

    @Test(
        "A blocked prompt or a candidate stopped before any content is a 400 content_policy_violation",
        arguments: [
            ("prompt", "SAFETY"), ("prompt", "PROHIBITED_CONTENT"), ("candidate", "SAFETY"),
            ("candidate", "PROHIBITED_CONTENT"), ("candidate", "BLOCKLIST"), ("candidate", "SPII"),
            ("candidate", "RECITATION"), ("candidate", "IMAGE_SAFETY"), ("candidate", "IMAGE_PROHIBITED_CONTENT"),
            ("candidate", "IMAGE_RECITATION"),
        ])
    func jsonAnswer(where blocked: String, reason: String) async throws {
        let fake = try await FakeUpstream.start()
        fake.enqueue(
            blocked == "prompt"
                ? .geminiBlockedPrompt(reason: reason) : .json(encoding: Self.blockedCandidate(reason)),
            for: Self.generate)
        try await Self.withGeminiProxy(fake) { proxy in
            let response = try await proxy.chat("chat", "something refused")
            Self.expectContentPolicy(response, naming: reason)
            // Returned to the caller: neither retried nor sent anywhere else.
            #expect(fake.requests.count == 1)
        }
        try await fake.shutdown()
    }

    @Test(
        "A streamed block before any output is a 400 content_policy_violation, not an event stream",
        arguments: [("prompt", "SAFETY"), ("candidate", "SAFETY"), ("candidate", "IMAGE_PROHIBITED_CONTENT")])
    func streamedAnswer(where blocked: String, reason: String) async throws {
        let fake = try await FakeUpstream.start()
        let event: FakeStreamEvent =
            blocked == "prompt"
            ? .geminiData(["promptFeedback": ["blockReason": .string(reason)]])
            : .geminiData(Self.blockedCandidate(reason))
        fake.enqueue(.sse([event]), for: Self.streamGenerate)
        try await Self.withGeminiProxy(fake) { proxy in
            let response = try await proxy.chat("chat", "something refused", stream: true)
            Self.expectContentPolicy(response, naming: reason)
            #expect(fake.requests.count == 1)
        }
        try await fake.shutdown()
    }
}

import ModelMesh
import ModelMeshProviders
import ModelMeshTesting
import Testing

/// An OpenAI request through the proxy to an OpenAI-compatible upstream goes out as the
/// client's own bytes with only `model` (and, streamed, `stream_options`) spliced in.
@Suite("Request bytes pass through", .timeLimit(.minutes(1)))
struct WireBodyPassThroughTests {
    static func withUpstream(_ body: (FakeUpstream, ProxyClient) async throws -> Void) async throws {
        let fake = try await FakeUpstream.start()
        let transport = HTTPTransport()
        let provider = try OpenAICompatibleProvider(
            configuration: ProviderConfiguration(
                id: "p-openai.gpt-4o", connector: "openai.llm.v1", baseURL: fake.url("/v1"), apiKey: Secret("sk-test")),
            transport: transport)
        do {
            try await withProxy(TestMesh(models: [("openai.gpt-4o", provider)])) { client in
                try await body(fake, client)
            }
        } catch {
            try await transport.shutdown()
            try await fake.shutdown()
            throw error
        }
        try await transport.shutdown()
        try await fake.shutdown()
    }

    @Test("A chat request keeps its key order, spacing, number spellings and unknown members")
    func completionKeepsBytes() async throws {
        try await Self.withUpstream { fake, client in
            fake.setDefault(.openAIChatCompletion(content: "hi"))
            let sent =
                #"{ "messages" : [{"role":"user","content":"caf\u00e9 \ud83d\ude00"}],"seed":7,"#
                + #""temperature":1.0e0,"model":"chat","x_vendor":{"deep":[1,2,{"a":null}]} }"#
            let response = try await client.send(.POST, "/v1/chat/completions", body: sent)
            #expect(response.status == 200, "\(response.body)")
            let received = String(decoding: fake.lastRequest?.body ?? [], as: UTF8.self)
            #expect(received == sent.replacingOccurrences(of: #""model":"chat""#, with: #""model":"gpt-4o""#))
        }
    }

    @Test("A streamed request gets the usage option spliced in and nothing else changed")
    func streamAddsUsage() async throws {
        try await Self.withUpstream { fake, client in
            fake.setDefault(.openAIStream(pieces: ["a", "b"]))
            let sent = #"{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}],"n":1}"#
            let response = try await client.send(.POST, "/v1/chat/completions", body: sent)
            #expect(response.status == 200, "\(response.body)")
            let received = String(decoding: fake.lastRequest?.body ?? [], as: UTF8.self)
            #expect(
                received
                    == #"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}],"n":1,"#
                    + #""stream_options":{"include_usage":true}}"#)
        }
    }

    @Test("A repeated member the engine reads is settled by encoding the decoded request; others pass")
    func repeatedMembersAreReencoded() async throws {
        try await Self.withUpstream { fake, client in
            fake.setDefault(.openAIChatCompletion(content: "hi"))
            // The engine reserves budget for the first max_tokens; the upstream must not see 9000.
            let capped = #"{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"max_tokens":9000}"#
            let first = try await client.send(.POST, "/v1/chat/completions", body: capped)
            #expect(first.status == 200)
            let received = fake.lastRequest.map { String(decoding: $0.body, as: UTF8.self) } ?? ""
            #expect(received.contains(#""model":"gpt-4o""#))
            #expect(received.contains(#""max_tokens":5"#))
            #expect(!received.contains("9000"))
            // A member the engine does not read is the upstream's business: it passes as sent.
            let seeds = #"{"model":"chat","messages":[{"role":"user","content":"hi"}],"seed":1,"seed":2}"#
            let second = try await client.send(.POST, "/v1/chat/completions", body: seeds)
            #expect(second.status == 200)
            let passed = fake.lastRequest.map { String(decoding: $0.body, as: UTF8.self) } ?? ""
            #expect(passed == seeds.replacingOccurrences(of: #""model":"chat""#, with: #""model":"gpt-4o""#))
        }
    }

    @Test("Changing any field of a request drops its original bytes")
    func mutationDropsWireBody() throws {
        var request = ChatCompletionRequest(model: "chat", messages: [.user("hi")])
        let bytes = Array(#"{"model":"chat","messages":[{"role":"user","content":"hi"}]}"#.utf8)
        request.wireBody = OpenAIWireBody(bytes: bytes, scan: try OpenAIRequestScan.scan(bytes))
        var copy = request
        #expect(copy.wireBody != nil)
        copy.maxTokens = 5
        #expect(copy.wireBody == nil)
        copy = request
        copy.extra["seed"] = 1
        #expect(copy.wireBody == nil)
        copy = request
        copy.messages.append(.user("more"))
        #expect(copy.wireBody == nil)
        #expect(request.wireBody != nil)
    }
}

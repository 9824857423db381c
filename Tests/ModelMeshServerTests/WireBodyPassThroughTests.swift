import ModelMesh
import ModelMeshProviders
import ModelMeshTesting
import Testing

/// An OpenAI request through the proxy to an OpenAI-compatible upstream goes out as the
/// client's own bytes with only `model` (and, streamed, `stream_options`) spliced in.
@Suite("Request bytes pass through", .timeLimit(.minutes(1)))
struct WireBodyPassThroughTests {
    static func withUpstream(
        _ configure: (inout TestMesh) -> Void = { _ in }, _ body: (FakeUpstream, ProxyClient) async throws -> Void
    ) async throws {
        let fake = try await FakeUpstream.start()
        let transport = HTTPTransport()
        let provider = try OpenAICompatibleProvider(
            configuration: ProviderConfiguration(
                id: "p-openai.gpt-4o", connector: "openai.llm.v1", baseURL: fake.url("/v1"), apiKey: Secret("sk-test")),
            transport: transport)
        var testMesh = TestMesh(models: [("openai.gpt-4o", provider)])
        configure(&testMesh)
        do {
            try await withProxy(testMesh) { client in
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

    @Test("The answer goes back as the upstream's bytes; usage, cost and the logged text are still right")
    func answerKeepsBytes() async throws {
        let log = AbandonedStreamTests.LogWaiter()
        try await Self.withUpstream({ testMesh in
            testMesh.connectors = [log]
            testMesh.configure = { config in
                config.observability.logLevel = .full
                // $1 per million input tokens, cached ones at $0.50; $2 per million output.
                config.models[0].pricing = ModelPricing(
                    inputPerMillion: 1, outputPerMillion: 2, cachedInputPerMillion: 0.5)
            }
        }) { fake, client in
            let answer =
                #"{ "id" : "chatcmpl-9", "object":"chat.completion","created":1700000000,"model":"gpt-4o-2024","#
                + #""choices":[{"index":0,"message":{"role":"assistant","content":"café"},"finish_reason":"length"}],"#
                + #""usage":{"prompt_tokens":1000000,"completion_tokens":500000,"total_tokens":1500000,"#
                + #""prompt_tokens_details":{"cached_tokens":400000}},"x_vendor":[1.0e0]}"#
            fake.setDefault(.json(answer))
            let response = try await client.chat()
            #expect(response.status == 200)
            #expect(response.body == answer)
            var entries = log.entries.makeAsyncIterator()
            let entry = try #require(await entries.next())
            #expect(entry.tokensIn == 1_000_000 && entry.tokensOut == 500_000)
            // 600k uncached at $1/M, 400k cached at $0.50/M, 500k out at $2/M.
            #expect(abs((entry.cost ?? 0) - 1.8) < 1e-9, "\(String(describing: entry.cost))")
            #expect(entry.response == "café")
        }
    }

    @Test("An answer the scan finds incomplete is decoded and repaired, not relayed as it came")
    func incompleteAnswerIsRepaired() async throws {
        try await Self.withUpstream { fake, client in
            // No `created` and no `object`: a lenient server's answer.
            fake.setDefault(
                .json(#"{"id":"x","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}"#))
            let response = try await client.chat()
            #expect(response.status == 200, "\(response.body)")
            #expect(response.body.contains(#""object":"chat.completion""#), "\(response.body)")
            #expect(response.body.contains(#""created":"#), "\(response.body)")
        }
    }

    @Test("Streamed chunks go back as the upstream's bytes, members the proxy does not model included")
    func chunksKeepBytes() async throws {
        try await Self.withUpstream { fake, client in
            let first =
                #"{"id":"c-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","system_fingerprint":"fp_9","#
                + #""choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"logprobs":{"content":[]},"finish_reason":null}]}"#
            // Spread over two `data:` lines: relayed as one, re-encoded.
            let second =
                "{\"id\":\"c-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\n"
                + #""choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}"#
            fake.setDefault(.sse([.data(first), .data(second)], ending: .done))
            let response = try await client.chat(stream: true)
            #expect(response.status == 200, "\(response.body)")
            let payloads = SSE.payloads(response.body)
            #expect(payloads.first == first, "\(response.body)")
            #expect(payloads.count == 3 && payloads.last == "[DONE]", "\(response.body)")
            guard payloads.count == 3 else { return }
            #expect(!payloads[1].contains("\n") && payloads[1].contains(#""content":"lo""#), "\(payloads[1])")
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

        // A chunk keeps its bytes while its id is set to the same value (the relay does that
        // to every chunk), and loses them when anything changes.
        var chunk = ChatCompletionChunk(id: "c", model: "m", choices: [.init(delta: .init(content: "x"))])
        chunk.wireBytes = ChunkWireBytes(Array("{}".utf8))
        var same = chunk
        same.id = "c"
        #expect(same.wireBytes != nil && same == chunk)
        same.id = "d"
        #expect(same.wireBytes == nil)
        same = chunk
        same.choices[0].delta.role = nil
        #expect(same.wireBytes == nil)
    }
}

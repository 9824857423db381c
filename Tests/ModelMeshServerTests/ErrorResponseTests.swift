import AsyncHTTPClient
import Foundation
import ModelMesh
import ModelMeshServer
import ModelMeshTesting
import NIOCore
import Testing

@Suite("Errors in the OpenAI shape", .timeLimit(.minutes(1)))
struct ErrorResponseTests {
    @Test("Bad JSON is a 400 naming the problem")
    func badJSON() async throws {
        try await withProxy(twoModels()) { client in
            let response = try await client.send(
                .POST, "/v1/chat/completions", body: #"{"model": "chat", "messages": [}"#)
            #expect(response.status == 400)
            let error = try #require(response.json["error"])
            #expect(error["type"]?.stringValue == "invalid_request_error")
            #expect(error["message"]?.stringValue?.hasPrefix("Invalid JSON") == true)
            // param and code are present (null when unknown), as OpenAI clients expect.
            #expect(error.objectValue?.keys.contains("param") == true)
            #expect(error["request_id"]?.stringValue == response.header("x-request-id"))

            let empty = try await client.send(.POST, "/v1/chat/completions", body: "")
            #expect(empty.status == 400)
            #expect(empty.json["error"]?["message"]?.stringValue?.contains("empty") == true)
        }
    }

    @Test("Missing model or messages is a 400 with param set")
    func missingFields() async throws {
        try await withProxy(twoModels()) { client in
            let noModel = try await client.send(
                .POST, "/v1/chat/completions", body: #"{"messages": [{"role": "user", "content": "hi"}]}"#)
            #expect(noModel.status == 400)
            #expect(noModel.json["error"]?["param"]?.stringValue == "model")
            #expect(noModel.json["error"]?["message"]?.stringValue == "Missing required field: model")

            let noMessages = try await client.send(.POST, "/v1/chat/completions", body: #"{"model": "chat"}"#)
            #expect(noMessages.status == 400)
            #expect(noMessages.json["error"]?["param"]?.stringValue == "messages")

            let emptyMessages = try await client.send(
                .POST, "/v1/chat/completions", body: #"{"model": "chat", "messages": []}"#)
            #expect(emptyMessages.status == 400)
            #expect(emptyMessages.json["error"]?["param"]?.stringValue == "messages")

            let wrongType = try await client.send(
                .POST, "/v1/chat/completions", body: #"{"model": 7, "messages": []}"#)
            #expect(wrongType.status == 400)
            #expect(wrongType.json["error"]?["param"]?.stringValue == "model")
        }
    }

    @Test("Missing or wrong bearer tokens are 401; /health stays open")
    func authentication() async throws {
        try await withProxy(twoModels(), proxy: { $0.tokens = [Secret("first-token"), Secret("second-token")] }) {
            client in
            let health = try await client.send(.GET, "/health")
            #expect(health.status == 200)
            #expect(health.json["status"]?.stringValue == "ok")

            let missing = try await client.send(.GET, "/v1/models")
            #expect(missing.status == 401)
            #expect(missing.json["error"]?["type"]?.stringValue == "authentication_error")
            #expect(missing.header("www-authenticate") == "Bearer")

            let wrong = try await client.send(.GET, "/v1/models", headers: [("authorization", "Bearer first-tokeN")])
            #expect(wrong.status == 401)
            #expect(!wrong.body.contains("first-token"))

            let bare = try await client.send(.GET, "/v1/models", headers: [("authorization", "second-token")])
            #expect(bare.status == 401)

            let good = try await client.send(.GET, "/v1/models", headers: [("authorization", "Bearer second-token")])
            #expect(good.status == 200)
            let chat = try await client.chat(headers: [("authorization", "bearer first-token")])
            #expect(chat.status == 200)
        }
    }

    @Test("A request over budget is refused with 402 before it is sent")
    func budget() async throws {
        let alpha = MockProvider()
        var mesh = twoModels(alpha)
        mesh.configure = { config in
            config.budget = BudgetLimits(perRequest: 0.000001)
            for i in config.models.indices {
                config.models[i].pricing = ModelPricing(inputPerMillion: 100, outputPerMillion: 100)
            }
        }
        try await withProxy(mesh) { client in
            let response = try await client.chat()
            #expect(response.status == 402)
            let error = try #require(response.json["error"])
            #expect(error["type"]?.stringValue == "budget_exceeded")
            let message = try #require(error["message"]?.stringValue)
            #expect(message.contains("limit"))
            #expect(message.contains("left"))
            #expect(alpha.callCount == 0)
        }
    }

    @Test("Unknown models and paths are 404s; unknown models come with suggestions")
    func notFound() async throws {
        try await withProxy(twoModels()) { client in
            let model = try await client.chat("chatt")
            #expect(model.status == 404)
            #expect(model.json["error"]?["code"]?.stringValue == "model_not_found")
            #expect(model.json["error"]?["param"]?.stringValue == "model")
            #expect(model.json["error"]?["message"]?.stringValue?.contains("'chat'") == true)

            let method = try await client.send(.GET, "/v1/chat/completions")
            #expect(method.status == 405)
            #expect(method.json["error"]?["type"]?.stringValue == "invalid_request_error")

            let path = try await client.send(.GET, "/v1/nothing-here")
            #expect(path.status == 404)
            #expect(path.json["error"]?["code"]?.stringValue == "not_found")
            #expect(path.json["error"]?["message"]?.stringValue?.contains("/v1/nothing-here") == true)
        }
    }

    @Test("Bodies over the limit are 413, with or without Content-Length")
    func bodyTooLarge() async throws {
        try await withProxy(twoModels(), proxy: { $0.bodyLimit = 1024 }) { client in
            let big =
                #"{"model": "chat", "messages": [{"role": "user", "content": ""# + String(repeating: "x", count: 4000)
                + #""}]}"#
            let declared = try await client.send(.POST, "/v1/chat/completions", body: big)
            #expect(declared.status == 413)
            #expect(declared.json["error"]?["code"]?.stringValue == "request_too_large")

            var streamed = client.makeRequest(.POST, "/v1/chat/completions")
            streamed.headers.add(name: "content-type", value: "application/json")
            let pieces = stride(from: 0, to: big.utf8.count, by: 512).map { offset in
                ByteBuffer(string: String(big.dropFirst(offset).prefix(512)))
            }
            let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
            for piece in pieces { continuation.yield(piece) }
            continuation.finish()
            streamed.body = .stream(stream, length: .unknown)
            let chunked = try await client.send(streamed)
            #expect(chunked.status == 413)

            let small = try await client.chat()
            #expect(small.status == 200)
        }
    }

    @Test("The local rate limit answers 429 with Retry-After")
    func rateLimit() async throws {
        try await withProxy(
            twoModels(),
            proxy: {
                // One a minute: a slow machine cannot earn a token back between the requests.
                $0.rateLimitPerMinute = 1
                $0.rateLimitBurst = 2
            }
        ) { client in
            #expect(try await client.send(.GET, "/v1/models").status == 200)
            #expect(try await client.send(.GET, "/v1/models").status == 200)
            let limited = try await client.send(.GET, "/v1/models")
            #expect(limited.status == 429)
            let retryAfter = try #require(limited.header("retry-after").flatMap { Int($0) })
            #expect((50...60).contains(retryAfter))
            #expect(limited.json["error"]?["type"]?.stringValue == "rate_limit_error")
            // Probes are never limited.
            #expect(try await client.send(.GET, "/health").status == 200)
        }
    }

    @Test("When every candidate fails the answer is 502 listing each attempt")
    func allFailed() async throws {
        let alpha = MockProvider(fallback: .fail(.serverError, status: 500))
        let beta = MockProvider(fallback: .fail(.serverError, status: 503))
        try await withProxy(twoModels(alpha, beta)) { client in
            let response = try await client.chat()
            #expect(response.status == 502)
            let error = try #require(response.json["error"])
            #expect(error["code"]?.stringValue == "all_candidates_failed")
            let message = try #require(error["message"]?.stringValue)
            #expect(message.contains("vendor.alpha (server_error 500)"))
            #expect(message.contains("vendor.beta (server_error 503)"))
            #expect(error["attempts"]?.arrayValue?.count == 2)
            #expect(response.header("x-modelmesh-pool") == "chat")
            #expect(response.header("x-modelmesh-attempts") == "2")
        }
    }

    @Test("An upstream 429 passes through with its Retry-After")
    func upstreamRateLimit() async throws {
        let alpha = MockProvider(fallback: .fail(.rateLimited, status: 429, retryAfter: .seconds(7)))
        try await withProxy(TestMesh(models: [("vendor.alpha", alpha)])) { client in
            let response = try await client.chat()
            #expect(response.status == 429)
            #expect(response.header("retry-after") == "7")
            #expect(response.json["error"]?["type"]?.stringValue == "rate_limit_error")
        }
    }

    @Test("With no active model the answer is 503 and /ready says not ready")
    func noActiveModel() async throws {
        try await withProxy(twoModels()) { client in
            #expect(try await client.send(.GET, "/ready").status == 200)
            for model in ["vendor.alpha", "vendor.beta"] {
                #expect(try await client.send(.POST, "/v1/mesh/models/\(model)/deactivate").status == 200)
            }
            let response = try await client.chat()
            #expect(response.status == 503)
            #expect(response.json["error"]?["code"]?.stringValue == "no_active_model")
            let ready = try await client.send(.GET, "/ready")
            #expect(ready.status == 503)
            #expect(ready.json["ready"]?.boolValue == false)
        }
    }
}

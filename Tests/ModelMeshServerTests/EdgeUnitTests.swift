import Foundation
import ModelMesh
import Testing

@testable import ModelMeshServer

@Suite("Edge pieces without a socket", .timeLimit(.minutes(1)))
struct EdgeUnitTests {
    @Test("Engine errors map to statuses and OpenAI types")
    func meshErrorMapping() {
        let timeout = ProxyError(ModelMeshError(.timeout, "too slow"))
        #expect(timeout.status.code == 504)
        #expect(timeout.type == "timeout_error")

        let none = ProxyError(ModelMeshError(.noActiveModel, "nobody home"))
        #expect(none.status.code == 503)
        #expect(none.code == "no_active_model")

        let budget = ProxyError(
            ModelMeshError(.budgetExceeded, "Refused", limit: "global.daily", remaining: 0.25))
        #expect(budget.status.code == 402)
        #expect(budget.type == "budget_exceeded")
        #expect(budget.message.contains("global.daily"))
        #expect(budget.message.contains("0.25"))

        let upstream = ProxyError(ModelMeshError(.upstream, "slow down", status: 429, retryAfter: .milliseconds(1500)))
        #expect(upstream.status.code == 429)
        #expect(upstream.headers[.retryAfter] == "2")

        let unknown = ProxyError(
            NSError(domain: "db", code: 1, userInfo: [NSLocalizedDescriptionKey: "password=hunter2"]))
        #expect(unknown.status.code == 500)
        #expect(!unknown.message.contains("hunter2"))
    }

    @Test("Decoding errors name the field")
    func decodingErrors() throws {
        struct Shape: Decodable { var messages: [Inner] }
        struct Inner: Decodable { var role: String }
        do {
            _ = try JSONDecoder().decode(Shape.self, from: Data(#"{"messages": [{"role": 1}]}"#.utf8))
            Issue.record("expected a decoding error")
        } catch let error as DecodingError {
            let rendered = ProxyError.decoding(error)
            #expect(rendered.param == "messages[0].role")
            #expect(rendered.message.contains("expected a string"))
        }
    }

    @Test("Token buckets allow the burst, then refill at the configured rate")
    func tokenBucket() {
        let limiter = TokenBucketLimiter(perMinute: 60, burst: 2)
        let start = ContinuousClock.now
        #expect(limiter.acquire(key: "a", now: start) == .allowed)
        #expect(limiter.acquire(key: "a", now: start) == .allowed)
        #expect(limiter.acquire(key: "a", now: start) == .limited(retryAfterSeconds: 1))
        // Other clients have their own bucket.
        #expect(limiter.acquire(key: "b", now: start) == .allowed)
        #expect(limiter.acquire(key: "a", now: start + .seconds(1)) == .allowed)
        #expect(limiter.acquire(key: "a", now: start + .seconds(1)) == .limited(retryAfterSeconds: 1))
    }

    @Test("Token comparison is exact")
    func tokenComparison() {
        #expect(BearerAuthMiddleware.constantTimeEquals(Array("abc".utf8), Array("abc".utf8)))
        #expect(!BearerAuthMiddleware.constantTimeEquals(Array("abc".utf8), Array("abd".utf8)))
        #expect(!BearerAuthMiddleware.constantTimeEquals(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!BearerAuthMiddleware.constantTimeEquals([], Array("a".utf8)))
        let auth = BearerAuthMiddleware(tokens: [Secret("one"), Secret("two")], openPaths: [])
        #expect(auth.accepts(BearerAuthMiddleware.bearerToken("Bearer two")!))
        #expect(BearerAuthMiddleware.bearerToken("Basic two") == nil)
        #expect(BearerAuthMiddleware.bearerToken("Bearer ") == nil)
    }

    @Test("Client request ids are kept only when safe")
    func requestIDs() {
        #expect(RequestIDMiddleware.usable("abc-123") == "abc-123")
        #expect(RequestIDMiddleware.usable("has space") == nil)
        #expect(RequestIDMiddleware.usable(String(repeating: "a", count: 200)) == nil)
        #expect(RequestIDMiddleware.generate() != RequestIDMiddleware.generate())
    }

    @Test("Nearest model names rank by edit distance")
    func suggestions() {
        var configuration = MeshConfiguration()
        configuration.providers = [ProviderConfiguration(id: "p")]
        configuration.models = [
            ModelConfiguration(id: "openai.gpt-4o", provider: "p"),
            ModelConfiguration(id: "openai.gpt-4o-mini", provider: "p"),
        ]
        configuration.pools = [PoolConfiguration(id: "chat")]
        let list = ModelList(configuration: configuration, created: Date())
        #expect(list.nearest(to: "openai.gpt4o").first == "openai.gpt-4o")
        #expect(list.entry("openai.gpt-4o-mini")?.ownedBy == "openai")
    }
}

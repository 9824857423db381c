import InMemoryTracing
import ModelMesh
import ModelMeshTesting
import Testing
import Tracing

/// The engine's spans, seen through swift-distributed-tracing's in-memory tracer (no
/// exporter needed, so these run with or without the OpenTelemetry trait).
@Suite struct LibraryTracingTests {
    static func mesh(_ alpha: MockProvider, _ beta: MockProvider) throws -> Mesh {
        var config = MeshConfiguration()
        var registry = ProviderRegistry()
        for (id, mock) in [("vendor.alpha", alpha), ("vendor.beta", beta)] {
            config.providers.append(ProviderConfiguration(id: "p-" + id, connector: "mock.v1"))
            config.models.append(
                ModelConfiguration(
                    id: id, provider: "p-" + id, capabilities: ["generation.text-generation.chat-completion"]))
            registry.register(provider: "p-" + id, instance: mock)
        }
        var chat = PoolConfiguration(id: "chat", capability: "chat-completion")
        chat.retry.maxAttempts = 1
        chat.deactivation.retryLimit = 100
        config.pools = [chat]
        config.observability.connectors = []
        return try Mesh(configuration: config, providers: registry, jitter: { 1 })
    }

    @Test func aTracerInScopeGetsRequestAndAttemptSpans() async throws {
        let mesh = try Self.mesh(
            MockProvider(script: [.fail(.serverError, status: 503, message: "down")]),
            MockProvider(fallback: .reply("from beta")))
        let tracer = InMemoryTracer()
        let reply = try await withTracer(tracer) {
            try await mesh.chat.completions.create(ChatCompletionRequest(model: "chat", messages: [.user("hi")]))
        }
        #expect(reply.text == "from beta")
        let spans = tracer.finishedSpans
        let request = try #require(spans.first { $0.operationName == "chat chat" })
        let attempts = spans.filter { $0.parentSpanID == request.spanID }
        #expect(attempts.count == 2)
        #expect(attempts.allSatisfy { $0.traceID == request.traceID && $0.kind == .client })
        #expect(request.attributes.get("gen_ai.operation.name") == "chat")
        #expect(request.attributes.get("gen_ai.request.model") == "chat")
        #expect(request.attributes.get("gen_ai.response.model") == "vendor.beta")
        #expect(request.attributes.get("modelmesh.pool") == "chat")
        #expect(request.attributes.get("modelmesh.attempts") == 2)
        let failed = try #require(attempts.first { $0.attributes.get("modelmesh.model") == "vendor.alpha" })
        #expect(failed.status?.code == .error)
        #expect(failed.attributes.get("modelmesh.error_class") == "server_error")
        #expect(failed.attributes.get("modelmesh.attempt") == 1)
        let answered = try #require(attempts.first { $0.attributes.get("modelmesh.model") == "vendor.beta" })
        #expect(answered.attributes.get("modelmesh.attempt") == 2)
        #expect(answered.attributes.get("modelmesh.rotated_from") == "vendor.alpha")
        // The rotation is an event of the request span.
        #expect(request.events.contains { $0.name == "model_rotated" })
        await mesh.shutdown()
    }

    @Test func noTracerNoSpans() async throws {
        let mesh = try Self.mesh(MockProvider(fallback: .reply("a")), MockProvider(fallback: .reply("b")))
        #expect(MeshTracing.tracer(nil) == nil)
        _ = try await mesh.chat.completions.create(ChatCompletionRequest(model: "chat", messages: [.user("hi")]))
        #expect(MeshTracing.tracer(NoOpTracer()) == nil)
        await mesh.shutdown()
    }

    @Test func aFailedRequestEndsItsSpanWithTheError() async throws {
        let mesh = try Self.mesh(MockProvider(fallback: .reply("a")), MockProvider(fallback: .reply("b")))
        let tracer = InMemoryTracer()
        var options = RoutingOptions()
        options.tracer = tracer
        await #expect(throws: ModelMeshError.self) {
            _ = try await mesh.chat.completions.create(
                ChatCompletionRequest(model: "no-such-pool", messages: [.user("hi")]), options: options)
        }
        let span = try #require(tracer.finishedSpans.first)
        #expect(span.status?.code == .error)
        #expect(span.attributes["error.type"] != nil)
        await mesh.shutdown()
    }
}

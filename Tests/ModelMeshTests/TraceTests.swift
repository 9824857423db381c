import Foundation
import ModelMesh
import ModelMeshTesting
import Testing

@Suite struct TraceTests {
    @Test func failedAttemptsAreTracedWithSecretsMasked() async throws {
        let recording = RecordingConnector()
        let primary = MockProvider(script: [.fail(.serverError, status: 503, message: "key sk-live-1234567890abcdef rejected")])
        var config = MeshConfiguration()
        config.observability.connectors = []
        config.providers = [ProviderConfiguration(id: "p", apiKey: Secret("sk-live-1234567890abcdef"))]
        config.models = [ModelConfiguration(id: "m", provider: "p", capabilities: ["generation.text-generation.chat-completion"])]
        config.pools = [PoolConfiguration(id: "chat", capability: "chat-completion")]
        var registry = ProviderRegistry()
        registry.register(provider: "p", instance: primary)
        let mesh = try Mesh(configuration: config, providers: registry, connectors: [recording], clock: TestClock())
        _ = try await mesh.route(ChatCompletionRequest(model: "chat", messages: [.user("x")]))
        let traces = recording.traces
        #expect(traces.count == 1)
        #expect(traces.first?.severity == .warning)
        #expect(traces.first?.message == "Attempt 1 on m failed: server_error (503)")
        #expect(traces.allSatisfy { !$0.message.contains("sk-live") })
    }

    @Test func tracesBelowTheMinimumAreNotSent() async throws {
        let recording = RecordingConnector()
        let f = try MeshFixture(models: [("a", MockProvider(script: [.fail(.serverError, status: 500)]))]) { _ in } configure: {
            $0.observability.traceMinSeverity = .error
        }
        f.mesh.events.subscribe(recording)
        _ = try await f.ask()
        #expect(recording.traces.isEmpty)
    }
}

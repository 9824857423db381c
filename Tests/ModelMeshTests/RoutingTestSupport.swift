import Foundation
import ModelMesh
import ModelMeshTesting
import Synchronization

/// Collects every event and request log entry it receives.
final class EventRecorder: ObservabilityConnector {
    private let store = Mutex<([RoutingEvent], [RequestLogEntry])>(([], []))

    func emit(_ event: RoutingEvent) throws { store.withLock { $0.0.append(event) } }
    func log(_ entry: RequestLogEntry) throws { store.withLock { $0.1.append(entry) } }

    var events: [RoutingEvent] { store.withLock { $0.0 } }
    var logs: [RequestLogEntry] { store.withLock { $0.1 } }
    func events(_ type: EventType) -> [RoutingEvent] { events.filter { $0.eventType == type } }
    func clear() { store.withLock { $0 = ([], []) } }
}

/// A mesh over mock providers, one provider per model, with a virtual clock and no jitter.
struct MeshFixture {
    let mesh: Mesh
    let clock: TestClock
    let recorder: EventRecorder
    let providers: [String: MockProvider]

    /// - Parameters:
    ///   - models: (model id, provider id, mock) in pool order.
    ///   - pool: adjusts the pool `chat`.
    init(
        models: [(String, MockProvider)], pool: (inout PoolConfiguration) -> Void = { _ in },
        configure: (inout MeshConfiguration) -> Void = { _ in }
    ) throws {
        var config = MeshConfiguration()
        config.observability.connectors = []
        var registry = ProviderRegistry()
        var mocks: [String: MockProvider] = [:]
        for (modelID, mock) in models {
            let providerID = "p-" + modelID
            config.providers.append(ProviderConfiguration(id: providerID, connector: "mock.v1"))
            config.models.append(
                ModelConfiguration(
                    id: modelID, provider: providerID, capabilities: ["generation.text-generation.chat-completion"]))
            registry.register(provider: providerID, instance: mock)
            mocks[modelID] = mock
        }
        var chat = PoolConfiguration(id: "chat", capability: "chat-completion")
        pool(&chat)
        config.pools = [chat]
        configure(&config)
        let clock = TestClock()
        let recorder = EventRecorder()
        mesh = try Mesh(configuration: config, providers: registry, connectors: [recorder], clock: clock, jitter: { 1 })
        self.clock = clock
        self.recorder = recorder
        providers = mocks
    }

    func ask(_ model: String = "chat", _ text: String = "hi", maxTokens: Int? = nil) async throws -> Routed<ChatCompletion> {
        try await mesh.route(ChatCompletionRequest(model: model, messages: [.user(text)], maxTokens: maxTokens))
    }
}

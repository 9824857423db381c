import Foundation
import ModelMesh
import ModelMeshTesting
import Synchronization
import Testing

/// A storage that tells when it was written.
final class SignallingStorage: StateStorage {
    private let inner = InMemoryStateStorage()
    let saves: AsyncStream<Data>
    private let continuation: AsyncStream<Data>.Continuation

    init() { (saves, continuation) = AsyncStream.makeStream() }

    func load(key: String) throws -> Data? { try inner.load(key: key) }
    func save(key: String, data: Data) throws {
        try inner.save(key: key, data: data)
        continuation.yield(data)
    }
}

@Suite struct StatePersistenceTests {
    func config(policy: SyncPolicy, requestLimit: Int? = nil) -> (MeshConfiguration, ProviderRegistry) {
        var config = MeshConfiguration()
        config.observability.connectors = []
        config.storage.syncPolicy = policy
        var registry = ProviderRegistry()
        for id in ["a", "b"] {
            config.providers.append(ProviderConfiguration(id: "p-\(id)", connector: "mock.v1"))
            config.models.append(
                ModelConfiguration(id: id, provider: "p-\(id)", capabilities: ["generation.text-generation.chat-completion"]))
            registry.register(provider: "p-\(id)", instance: MockProvider())
        }
        var pool = PoolConfiguration(id: "chat", capability: "chat-completion")
        pool.deactivation.requestLimit = requestLimit
        config.pools = [pool]
        return (config, registry)
    }

    @Test func immediateSyncWritesAfterAStateChangeWithoutWaitingForAnInterval() async throws {
        let storage = SignallingStorage()
        let (config, registry) = config(policy: .immediate)
        // Real time: the background loops sleep on it (a virtual clock would spin them).
        let mesh = try Mesh(configuration: config, providers: registry, clock: SystemClock(), storage: storage)
        let background = Task { await mesh.run() }
        defer { background.cancel() }
        try mesh.deactivate(model: "a")
        var saves = storage.saves.makeAsyncIterator()
        var saved = try #require(await saves.next())
        // Coalesced saves may have started before the change; the one after it shows it.
        while !String(decoding: saved, as: UTF8.self).contains("\"manual\"") {
            saved = try #require(await saves.next())
        }
        let text = String(decoding: saved, as: UTF8.self)
        #expect(text.contains("standby"))
    }

    @Test func usageCountersBehindLimitsSurviveARestart() async throws {
        let storage = InMemoryStateStorage()
        let clock = TestClock()
        let (config, registry) = config(policy: .syncOnBoundary, requestLimit: 2)
        let first = try Mesh(configuration: config, providers: registry, clock: clock, storage: storage)
        #expect(try await first.route(ChatCompletionRequest(model: "chat", messages: [.user("1")])).modelID == "a")
        await first.shutdown()

        let second = try Mesh(configuration: config, providers: registry, clock: clock, storage: storage)
        #expect(second.describe().pools[0].members[0].requestsToday == 1)
        #expect(try await second.route(ChatCompletionRequest(model: "chat", messages: [.user("2")])).modelID == "a")
        // The second request of the day reached the limit of 2 across the restart.
        let member = second.describe().pools[0].members[0]
        #expect(member.state == .standby)
        #expect(member.reason == "request_limit")
        #expect(try await second.route(ChatCompletionRequest(model: "chat", messages: [.user("3")])).modelID == "b")
    }
}

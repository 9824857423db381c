import Foundation
import ModelMesh
import ModelMeshTesting
import Synchronization
import Testing

/// `retry.scope`, `retry.retryable_codes` and `recovery.probe_on_start` through a mesh.
@Suite struct RetryScopeTests {
    /// Models a1 and a2 on provider p1, b on provider p2.
    func fixture(scope: RetryScope, failing: MockProvider) throws -> (Mesh, [String: MockProvider]) {
        var config = MeshConfiguration()
        config.observability.connectors = []
        var registry = ProviderRegistry()
        let a2 = MockProvider(fallback: .reply("a2"))
        let b = MockProvider(fallback: .reply("b"))
        // Two models of one provider need one connector answering both: route by model.
        let p1 = RoutingMock(byModel: ["a1": failing, "a2": a2])
        config.providers = [
            ProviderConfiguration(id: "p1", connector: "mock.v1"), ProviderConfiguration(id: "p2", connector: "mock.v1"),
        ]
        registry.register(provider: "p1", instance: p1)
        registry.register(provider: "p2", instance: b)
        config.models = [
            ModelConfiguration(id: "a1", provider: "p1"), ModelConfiguration(id: "b", provider: "p2"),
            ModelConfiguration(id: "a2", provider: "p1"),
        ]
        var pool = PoolConfiguration(id: "chat", models: ["a1", "b", "a2"])
        pool.retry.scope = scope
        pool.retry.maxAttempts = 2
        config.pools = [pool]
        let mesh = try Mesh(configuration: config, providers: registry, clock: TestClock(), jitter: { 1 })
        return (mesh, ["a1": failing, "a2": a2, "b": b])
    }

    func ask(_ mesh: Mesh) async throws -> Routed<ChatCompletion> {
        try await mesh.route(ChatCompletionRequest(model: "chat", messages: [.user("hi")]))
    }

    @Test func anyScopeRotatesAcrossProviders() async throws {
        let (mesh, _) = try fixture(scope: .any, failing: MockProvider(fallback: .fail(.serverError, status: 503)))
        #expect(try await ask(mesh).modelID == "b")
    }

    @Test func sameProviderScopeSkipsOtherProviders() async throws {
        let (mesh, mocks) = try fixture(
            scope: .sameProvider, failing: MockProvider(fallback: .fail(.serverError, status: 503)))
        #expect(try await ask(mesh).modelID == "a2")
        #expect(mocks["b"]?.callCount == 0)
    }

    @Test func sameModelScopeNeverRotates() async throws {
        let failing = MockProvider(fallback: .fail(.serverError, status: 503))
        let (mesh, mocks) = try fixture(scope: .sameModel, failing: failing)
        await #expect(throws: ModelMeshError.self) { try await ask(mesh) }
        #expect(failing.callCount == 2)  // retried on the same model, then the request failed
        #expect(mocks["b"]?.callCount == 0)
        #expect(mocks["a2"]?.callCount == 0)
    }

    @Test func probeOnStartProbesRestoredStandbyModelsAtOnce() async throws {
        let storage = InMemoryStateStorage()
        func makeMesh(_ a: MockProvider, probeOnStart: Bool) throws -> Mesh {
            var config = MeshConfiguration()
            config.observability.connectors = []
            var registry = ProviderRegistry()
            for (id, mock) in [("a", a), ("b", MockProvider())] {
                config.providers.append(ProviderConfiguration(id: "p-\(id)", connector: "mock.v1"))
                config.models.append(ModelConfiguration(id: id, provider: "p-\(id)"))
                registry.register(provider: "p-\(id)", instance: mock)
            }
            var pool = PoolConfiguration(id: "chat", models: ["a", "b"])
            pool.retry.maxAttempts = 1
            pool.deactivation.retryLimit = 1
            pool.recovery.cooldown = .seconds(3_600)
            pool.recovery.probeOnStart = probeOnStart
            config.pools = [pool]
            return try Mesh(configuration: config, providers: registry, clock: TestClock(), storage: storage)
        }
        let first = try makeMesh(MockProvider(fallback: .fail(.serverError, status: 503)), probeOnStart: false)
        #expect(try await ask(first).modelID == "b")
        #expect(first.describe().pools[0].members[0].state == .standby)
        try first.saveState()

        // Without probe_on_start the model waits out its hour of cooldown.
        let waiting = MockProvider()
        let quiet = try makeMesh(waiting, probeOnStart: false)
        #expect(quiet.describe().pools[0].members[0].state == .standby)

        let healed = MockProvider()
        let probing = try makeMesh(healed, probeOnStart: true)
        await probing.probeOnStart()
        #expect(healed.callCount == 1)
        #expect(probing.describe().pools[0].members[0].state == .active)
        #expect(try await ask(probing).modelID == "a")
        #expect(waiting.callCount == 0)
    }
}

/// Sends each request to the mock of its model.
final class RoutingMock: ProviderConnector {
    let byModel: [String: MockProvider]
    init(byModel: [String: MockProvider]) { self.byModel = byModel }

    func mock(_ target: ModelTarget) throws -> MockProvider {
        guard let mock = byModel[target.modelID] else {
            throw ProviderError(.modelNotFound, message: "no mock for \(target.modelID)")
        }
        return mock
    }

    func complete(_ request: ChatCompletionRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderCompletion
    {
        try await mock(target).complete(request, target: target, context: context)
    }

    func stream(_ request: ChatCompletionRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderStream
    {
        try await mock(target).stream(request, target: target, context: context)
    }

    func embed(_ request: EmbeddingRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderEmbedding
    {
        try await mock(target).embed(request, target: target, context: context)
    }
}

/// Budget alerts raised by real traffic through a mesh.
@Suite struct MeshBudgetAlertTests {
    final class TraceRecorder: ObservabilityConnector {
        private let traces = Mutex<[TraceEntry]>([])
        func emit(_ event: RoutingEvent) throws {}
        func trace(_ entry: TraceEntry) throws { traces.withLock { $0.append(entry) } }
        var budgetTraces: [TraceEntry] { traces.withLock { $0.filter { $0.component == "budget" } } }
    }

    @Test func settledSpendCrossingTheThresholdTracesOnceWithTheMeshClock() async throws {
        let traces = TraceRecorder()
        let clock = TestClock()
        var config = MeshConfiguration()
        config.observability.connectors = []
        var registry = ProviderRegistry()
        config.providers = [ProviderConfiguration(id: "p", connector: "mock.v1")]
        // 10 prompt + 5 completion tokens at $1,000 per million: $0.015 a request.
        config.models = [
            ModelConfiguration(id: "m", provider: "p", pricing: ModelPricing(inputPerMillion: 1_000, outputPerMillion: 1_000))
        ]
        registry.register(provider: "p", instance: MockProvider())
        config.pools = [PoolConfiguration(id: "chat", models: ["m"])]
        var budget = BudgetLimits(daily: 10)
        budget.alertThreshold = 0.003
        config.budget = budget
        let mesh = try Mesh(configuration: config, providers: registry, connectors: [traces], clock: clock)
        for _ in 0..<4 {
            _ = try await mesh.route(ChatCompletionRequest(model: "chat", messages: [.user("hi")], maxTokens: 5))
        }
        let alerts = traces.budgetTraces
        #expect(alerts.count == 1)  // the second request crossed $0.03; later ones do not repeat it
        #expect(alerts.first?.severity == .warning)
        #expect(alerts.first?.timestamp == clock.now())
    }
}

/// Recovery probes are paid for like traffic.
@Suite struct ProbeAccountingTests {
    @Test func aSuccessfulProbeChargesItsCostAndCountsForTheProvider() async throws {
        let price = ModelPricing(inputPerMillion: 1_000, outputPerMillion: 1_000)
        let a = MockProvider(script: [.fail(.serverError, status: 503)])
        let f = try MeshFixture(models: [("a", a), ("b", MockProvider())]) {
            $0.retry.maxAttempts = 1
            $0.deactivation.retryLimit = 1
            $0.recovery.cooldown = .seconds(10)
        } configure: {
            $0.models[0].pricing = price
            $0.budget = BudgetLimits(daily: 100)
        }
        #expect(try await f.ask().modelID == "b")
        #expect(f.mesh.describe().pools[0].members[0].state == .standby)
        let before = f.mesh.budget.spend(of: "model:a", now: f.clock.now()).daily
        f.clock.advance(by: .seconds(11))
        await f.mesh.probeStandbyModels()
        let member = f.mesh.describe().pools[0].members[0]
        #expect(member.state == .active)
        #expect(member.requestsToday == 2)
        // 10 prompt + 5 completion tokens at $1,000 per million.
        #expect(abs(f.mesh.budget.spend(of: "model:a", now: f.clock.now()).daily - before - 0.015) < 1e-9)
        #expect(f.mesh.budget.spend(of: "global", now: f.clock.now()).reserved == 0)
    }
}

/// A caller that leaves while a retry waits.
@Suite struct CancelledRetryWaitTests {
    /// Real time, but every sleep is announced, so a test knows when a retry is waiting.
    final class AnnouncingClock: MeshClock {
        let sleeps: AsyncStream<Duration>
        private let continuation: AsyncStream<Duration>.Continuation
        init() { (sleeps, continuation) = AsyncStream.makeStream() }
        func now() -> Date { Date() }
        func sleep(for duration: Duration) async throws {
            continuation.yield(duration)
            try await Task.sleep(for: duration)
        }
    }

    @Test("A caller that leaves while a retry waits is cancelled, and its reservation is given back")
    func leavingDuringTheRetryWait() async throws {
        var config = MeshConfiguration()
        config.observability.connectors = []
        config.providers = [ProviderConfiguration(id: "p", connector: "mock.v1")]
        var model = ModelConfiguration(id: "m", provider: "p", capabilities: ["generation.text-generation.chat-completion"])
        model.pricing = ModelPricing(inputPerMillion: 0, outputPerMillion: 1_000_000)
        config.models = [model]
        var pool = PoolConfiguration(id: "chat", models: ["m"])
        pool.retry.maxAttempts = 3
        pool.retry.initialDelay = .seconds(60)
        pool.retry.maxDelay = .seconds(60)
        config.pools = [pool]
        config.budget = BudgetLimits(daily: 100)
        var registry = ProviderRegistry()
        registry.register(provider: "p", instance: MockProvider(script: [.fail(.serverError, status: 503)]))
        let clock = AnnouncingClock()
        let mesh = try Mesh(configuration: config, providers: registry, connectors: [], clock: clock, jitter: { 1 })

        let call = Task {
            try await mesh.route(ChatCompletionRequest(model: "chat", messages: [.user("hi")], maxTokens: 5))
        }
        // Background work may sleep too: wait for the retry's minute.
        try await withTimeLimit(.seconds(10)) {
            for await wait in clock.sleeps where wait >= .seconds(30) { break }
        }
        #expect(mesh.budget.spend(of: "global", now: Date()).reserved == 5)
        call.cancel()
        do {
            _ = try await call.value
            Issue.record("a cancelled request was answered")
        } catch let error as ModelMeshError {
            #expect(error.code == .cancelled)
        }
        #expect(mesh.budget.spend(of: "global", now: Date()).reserved == 0)
        #expect(mesh.budget.spend(of: "global", now: Date()).daily == 0)
    }
}

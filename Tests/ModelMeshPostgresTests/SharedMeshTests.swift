import Foundation
import Synchronization
import ModelMesh
import ModelMeshPostgres
import ModelMeshTesting
import Testing

extension PostgresTests {
    /// Several meshes in one process, each with its own connection pool to one schema: the
    /// replicas of one mesh, as far as the database can tell.
    @Suite("Replicas sharing state", .timeLimit(.minutes(2)))
    struct SharedMeshTests {
        /// A replica: a mesh over two mock models (`vendor.alpha`, `vendor.beta`) in pool `chat`.
        struct Replica {
            let mesh: Mesh
            let events: RecordingConnector
            let run: Task<Void, Never>

            init(storage: StorageConfiguration, budget: BudgetLimits? = nil, requestLimit: Int? = nil) throws {
                var config = MeshConfiguration()
                var registry = ProviderRegistry()
                for id in ["vendor.alpha", "vendor.beta"] {
                    config.providers.append(ProviderConfiguration(id: "p-" + id, connector: "mock.v1"))
                    var model = ModelConfiguration(
                        id: id, provider: "p-" + id, capabilities: ["generation.text-generation.chat-completion"])
                    // $0.01 an output token: a max_tokens 5 chat reserves $0.05, and costs it.
                    model.pricing = ModelPricing(inputPerMillion: 0, outputPerMillion: 10_000)
                    config.models.append(model)
                    registry.register(provider: "p-" + id, instance: MockProvider(fallback: .reply("ok", usage: Usage(promptTokens: 3, completionTokens: 5))))
                }
                var chat = PoolConfiguration(id: "chat", capability: "chat-completion")
                chat.retry.maxAttempts = 1
                chat.deactivation.requestLimit = requestLimit
                config.pools = [chat]
                config.observability.connectors = []
                config.storage = storage
                if let budget { config.budget = budget }
                registry.sharedStateStore = PostgresStateStore.factory
                let events = RecordingConnector()
                let mesh = try Mesh(configuration: config, providers: registry, connectors: [events])
                self.mesh = mesh
                self.events = events
                run = Task { await mesh.run() }
            }

            func connected() async throws {
                try await waitUntil(.seconds(10), "the replica reached the store") {
                    mesh.sharedStorage?.available == true
                }
            }

            func state(of model: String) -> ModelState? { member(model)?.state }

            func member(_ model: String) -> ModelStatus? {
                mesh.describe().pools.first?.members.first { $0.modelID == model }
            }

            func chat() async throws -> ChatCompletion {
                try await mesh.chat.completions.create(
                    ChatCompletionRequest(model: "chat", messages: [.user("hi")], maxTokens: 5))
            }

            func stop() async {
                run.cancel()
                await run.value
                await mesh.shutdown()
            }
        }

        @Test("A deactivation on one replica is skipped by the other (the delay is printed); a manual activate there brings it back; each event once")
        func sharedHealth() async throws {
            let storage = TestPostgres.storage(try TestPostgres.settings())
            let a = try Replica(storage: storage)
            let b = try Replica(storage: storage)
            try await a.connected()
            try await b.connected()

            #expect(try a.mesh.deactivate(model: "vendor.alpha") == 1)
            let seen = try await waitUntil(.seconds(5), "replica B saw the deactivation") {
                b.state(of: "vendor.alpha") == .standby
            }
            // The promise is 1 s (the poll interval bounds it; notifications make it milliseconds).
            // A figure, not an assertion: timing belongs to the benchmark.
            print("deactivation seen by the other replica after \(seen)")
            let reply = try await b.chat()
            #expect(reply.model == "beta")  // the upstream name of vendor.beta

            #expect(try b.mesh.activate(model: "vendor.alpha") == 1)
            try await waitUntil(.seconds(5), "replica A saw the activation") { a.state(of: "vendor.alpha") == .active }
            #expect(try await a.chat().model == "alpha")

            let deactivations = (a.events.events + b.events.events).filter {
                $0.eventType == .modelDeactivated && $0.modelID == "vendor.alpha"
            }
            let activations = (a.events.events + b.events.events).filter {
                $0.eventType == .modelActivated && $0.modelID == "vendor.alpha"
            }
            #expect(deactivations.count == 1)
            #expect(a.events.events.contains { $0.eventType == .modelDeactivated })
            #expect(activations.count == 1)
            #expect(b.events.events.contains { $0.eventType == .modelActivated })
            // Every replica's state shows what the other did.
            #expect(b.mesh.describe().storage?.state == "available")
            await a.stop()
            await b.stop()
        }

        @Test("A request limit counts every replica's requests; the replica that reached it reports it, once")
        func sharedRequestLimit() async throws {
            let storage = TestPostgres.storage(try TestPostgres.settings())
            let a = try Replica(storage: storage, requestLimit: 5)
            let b = try Replica(storage: storage, requestLimit: 5)
            try await a.connected()
            try await b.connected()
            for _ in 0..<3 { #expect(try await a.chat().model == "alpha") }
            try await waitUntil(.seconds(5), "replica B counted A's requests") {
                b.member("vendor.alpha")?.requestsToday == 3
            }
            // Two more on B: five in the mesh, the limit. Alone, each replica would allow five.
            for _ in 0..<2 { #expect(try await b.chat().model == "alpha") }
            try await waitUntil(.seconds(5), "both replicas took vendor.alpha out") {
                a.state(of: "vendor.alpha") == .standby && b.state(of: "vendor.alpha") == .standby
            }
            #expect(a.member("vendor.alpha")?.reason == "request_limit")
            #expect(a.member("vendor.alpha")?.requestsToday == 5)
            #expect(try await a.chat().model == "beta")
            let events = (a.events.events + b.events.events).filter {
                $0.eventType == .modelDeactivated && $0.modelID == "vendor.alpha"
            }
            #expect(events.count == 1)
            #expect(b.events.events.contains { $0.eventType == .modelDeactivated && $0.modelID == "vendor.alpha" })
            await a.stop()
            await b.stop()
        }

        @Test("A provider taken out on one replica is out on the other")
        func sharedProviderState() async throws {
            let storage = TestPostgres.storage(try TestPostgres.settings())
            let a = try Replica(storage: storage)
            let b = try Replica(storage: storage)
            try await a.connected()
            try await b.connected()
            try a.mesh.deactivateProvider("p-vendor.alpha")
            try await waitUntil(.seconds(5), "replica B saw the provider out") {
                b.mesh.describe().providers.first { $0.id == "p-vendor.alpha" }?.state == "deactivated"
                    && b.state(of: "vendor.alpha") == .standby
            }
            #expect(try await b.chat().model == "beta")
            await a.stop()
            await b.stop()
        }

        @Test("Spend settled on one replica counts on the other; a restart keeps it")
        func sharedSpend() async throws {
            let settings = try TestPostgres.settings()
            let storage = TestPostgres.storage(settings)
            let a = try Replica(storage: storage, budget: BudgetLimits(daily: 0.12))
            let b = try Replica(storage: storage, budget: BudgetLimits(daily: 0.12))
            try await a.connected()
            try await b.connected()
            // $0.05 a request, $0.12 a day: two requests fit, across both replicas.
            _ = try await a.chat()
            _ = try await b.chat()
            do {
                _ = try await a.chat()
                Issue.record("a third request was served over the shared budget")
            } catch let error as ModelMeshError {
                #expect(error.code == .budgetExceeded)
            }
            await a.stop()
            await b.stop()
            let restarted = try Replica(storage: storage, budget: BudgetLimits(daily: 0.12))
            try await restarted.connected()
            try await waitUntil(.seconds(5), "the restarted replica read the spend") {
                restarted.mesh.budget.spend(of: "global", now: Date()).daily >= 0.099
            }
            #expect(abs(restarted.mesh.budget.spend(of: "global", now: Date()).daily - 0.10) < 1e-9)
            await restarted.stop()
        }

        @Test(
            "PostgreSQL stopping under load fails no request (fail_open) or only budgeted ones, specifically (fail_closed); restarted, the replicas reconcile",
            arguments: [StorageUnavailablePolicy.failOpen, .failClosed])
        func databaseOutage(policy: StorageUnavailablePolicy) async throws {
            try await OwnPostgres.with { server, settings in
                let storage = TestPostgres.storage(settings, onUnavailable: policy)
                let replica = try Replica(storage: storage, budget: BudgetLimits(daily: 100))
                try await replica.connected()
                _ = try await replica.chat()

                // Eight clients keep sending while the database stops and comes back.
                let servedSoFar = Counter()
                let load = Task {
                    await withTaskGroup(of: (served: Int, refused: [ModelMeshError]).self) { group in
                        for _ in 0..<8 {
                            group.addTask {
                                var served = 0
                                var refused: [ModelMeshError] = []
                                while !Task.isCancelled {
                                    do {
                                        _ = try await replica.chat()
                                        served += 1
                                        servedSoFar.add()
                                    } catch let error as ModelMeshError {
                                        // The load's own end cancels the request in flight; that is
                                        // not a refusal.
                                        if Task.isCancelled && error.code == .cancelled { break }
                                        refused.append(error)
                                    } catch {}
                                    try? await Task.sleep(for: .milliseconds(20))  // pacing, about 400 requests a second
                                }
                                return (served, refused)
                            }
                        }
                        var total = (served: 0, refused: [ModelMeshError]())
                        for await part in group {
                            total.served += part.served
                            total.refused += part.refused
                        }
                        return total
                    }
                }
                try await server.stop()
                try await waitUntil(.seconds(10), "the replica noticed the store went away") {
                    replica.mesh.sharedStorage?.available == false
                }
                // While it is away, requests keep coming.
                let before = replica.mesh.budget.spend(of: "global", now: Date()).daily
                try await waitUntil(.seconds(10), "requests were answered during the outage") {
                    policy == .failClosed || replica.mesh.budget.spend(of: "global", now: Date()).daily >= before + 0.5
                }
                #expect(replica.mesh.describe().storage?.outages == 1)

                try await server.restart()
                try await waitUntil(.seconds(20), "the replica reconciled with the store") {
                    replica.mesh.sharedStorage?.available == true
                }
                // Back to normal: budgeted requests are served again.
                let atReturn = servedSoFar.value
                try await waitUntil(.seconds(10), "requests were served after the store came back") {
                    servedSoFar.value >= atReturn + 3
                }
                load.cancel()
                let (served, refused) = await load.value
                try await waitUntil(.seconds(20), "the queued settlements were delivered") {
                    replica.mesh.sharedStorage?.pendingWrites == 0
                }
                print("database outage under load, \(policy.rawValue): \(served) served, \(refused.count) refused")
                switch policy {
                case .failOpen:
                    #expect(refused.isEmpty, "\(refused.prefix(3))")
                case .failClosed:
                    #expect(!refused.isEmpty)
                    #expect(refused.allSatisfy { $0.code == .storageUnavailable && $0.status == 503 }, "\(refused.prefix(3))")
                }
                #expect(served > 0)
                // The store holds every dollar settled, the outage's included, once.
                let checker = PostgresStateStore(settings: settings)
                let day = utcDay()
                let spent = try await withStore(checker) { store in
                    try await store.budgetRows(keys: ["global|d:\(day)"]).first?.spent ?? -1
                }
                // Each served request cost $0.05, and was counted once.
                #expect(spent == Int64(served + 1) * 50_000_000)
                #expect(replica.mesh.describe().storage?.outages == 1)
                await replica.stop()
            }
        }
    }
}

/// A count several tasks add to.
final class Counter: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

/// `2026-12-03`: today in UTC.
func utcDay(_ date: Date = Date()) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withFullDate]
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: date)
}

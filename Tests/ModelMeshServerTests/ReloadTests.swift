import AsyncHTTPClient
import Foundation
import ModelMesh
import ModelMeshProviders
import ModelMeshServer
import ModelMeshTesting
import Synchronization
import Testing

/// Configuration reloads through the proxy: `POST /v1/mesh/reload`, `serve --watch`'s file
/// watcher, and what carries over.
@Suite("Hot reload", .timeLimit(.minutes(2)))
struct ReloadTests {
    /// Models `vendor.a`, `vendor.b`, `vendor.c`, each answering with its own name after a
    /// short delay, streams included; the pool starts with a and b.
    static func threeModels(recorder: RecordingConnector) -> TestMesh {
        func mock(_ name: String) -> MockProvider {
            MockProvider(fallback: .delay(.milliseconds(5), then: .stream(["from ", name], pieceDelay: .milliseconds(10))))
        }
        var mesh = TestMesh(models: [("vendor.a", mock("a")), ("vendor.b", mock("b")), ("vendor.c", mock("c"))])
        mesh.connectors = [recorder]
        mesh.pool = { pool in
            pool.capability = nil
            pool.models = ["vendor.a", "vendor.b"]
            pool.strategy = "modelmesh.round-robin.v1"
        }
        return mesh
    }

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    static let admin: [(String, String)] = [("authorization", "Bearer admin-token")]
    static let user: [(String, String)] = [("authorization", "Bearer user-token")]

    static func auth(_ proxy: inout ProxyConfiguration) {
        proxy.tokens = [Secret("user-token")]
        proxy.adminTokens = [Secret("admin-token")]
    }

    @Test func reloadUnderLoadFailsNoRequestAndEmitsExactEvents() async throws {
        let recorder = RecordingConnector()
        let testMesh = Self.threeModels(recorder: recorder)
        // The next configuration: b out, c in, another strategy.
        var (next, _) = testMesh.configuration()
        next.pools[0].models = ["vendor.a", "vendor.c"]
        next.pools[0].strategy = "modelmesh.stick-until-failure.v1"
        let nextConfiguration = next
        try await withProxy(testMesh, proxy: Self.auth) { options, mesh in
            options.reloader = ConfigurationReloader(mesh: mesh, source: "test") { nextConfiguration }
        } _: { client in
            // The reloader names the source from the start.
            #expect(client.mesh.configurationVersion.source == "test")
            #expect(client.mesh.configurationVersion.version == 1)
            let served = Counter()
            let (started, startedContinuation) = AsyncStream<Void>.makeStream()
            let outcomes = try await withThrowingTaskGroup(of: [(status: Int, body: String)].self) { group in
                // 16 clients, 25 requests each, every third one streamed: 400 requests.
                for worker in 0..<16 {
                    group.addTask {
                        var results: [(status: Int, body: String)] = []
                        for i in 0..<25 {
                            let response = try await client.chat(
                                "chat", "hi", stream: (worker + i) % 3 == 0, headers: Self.user)
                            let text = response.events.isEmpty ? response.body : response.events.joined()
                            results.append((response.status, text))
                            if served.value.add(1, ordering: .relaxed).newValue == 100 { startedContinuation.yield() }
                        }
                        return results
                    }
                }
                // Reload while requests and streams are in flight.
                var waiting = started.makeAsyncIterator()
                _ = await waiting.next()
                let reload = try await client.send(.POST, "/v1/mesh/reload", headers: Self.admin)
                #expect(reload.status == 200, "\(reload.body)")
                #expect(reload.json["config"]?["version"] == 2)
                #expect(reload.json["membership"]?[0]?["added"] == ["vendor.c"])
                #expect(reload.json["membership"]?[0]?["removed"] == ["vendor.b"])
                var all: [(status: Int, body: String)] = []
                for try await results in group { all += results }
                return all
            }
            #expect(outcomes.count == 400)
            let failed = outcomes.filter { $0.status != 200 }
            #expect(failed.isEmpty, "\(failed.prefix(3))")
            #expect(outcomes.contains { $0.body.contains("from b") })

            // Exactly one membership event, for the one pool that changed.
            let membership = recorder.events(of: .poolMembershipChanged)
            #expect(membership.count == 1)
            #expect(membership.first?.poolID == "chat")
            #expect(membership.first?.metadata["added"] == ["vendor.c"])
            #expect(membership.first?.metadata["removed"] == ["vendor.b"])
            #expect(membership.first?.metadata["trigger"] == "reload")
            #expect(membership.first?.metadata["config_version"] == 2)

            // New requests use the new topology only, and its strategy: stick to a (no round
            // robin over a and c any more) until a fails.
            for _ in 0..<6 {
                let response = try await client.chat("chat", "hi", headers: Self.user)
                #expect(response.status == 200)
                #expect(response.body.contains("from a"))
            }
            let state = try await client.send(.GET, "/v1/mesh/state", headers: Self.user)
            #expect(state.json["config"]?["version"] == 2)
            #expect(state.json["config"]?["source"] == "test")
            #expect(state.json["config"]?["loaded_at"] != nil)
            #expect(state.json["pools"]?[0]?["strategy"] == "modelmesh.stick-until-failure.v1")
            let models = try await client.send(.GET, "/v1/models", headers: Self.user)
            #expect(models.body.contains("vendor.c"))
            let metrics = try await client.send(.GET, "/metrics", headers: Self.user)
            #expect(metrics.body.contains(#"modelmesh_model_active{pool="chat",model="vendor.c"} 1"#))
            #expect(!metrics.body.contains(#"modelmesh_model_active{pool="chat",model="vendor.b"}"#))
        }
    }

    @Test func healthCooldownsAndSpendCarryOverByID() async throws {
        let recorder = RecordingConnector()
        var testMesh = Self.threeModels(recorder: recorder)
        testMesh.configure = { config in
            config.budget = BudgetLimits(daily: 100)
            for i in config.models.indices {
                config.models[i].pricing = ModelPricing(inputPerMillion: 1_000, outputPerMillion: 1_000)
            }
        }
        let (base, _) = testMesh.configuration()
        let mesh = try testMesh.build()
        _ = try await mesh.route(ChatCompletionRequest(model: "vendor.a", messages: [.user("hi")]))
        let spent = mesh.budget.spend(of: "global", now: Date()).daily
        #expect(spent > 0)
        try mesh.deactivate(model: "vendor.b")
        try mesh.deactivateProvider("p-vendor.c")

        // Same models and providers, a new limit, a changed key for c's provider.
        var next = base
        next.budget = BudgetLimits(daily: 50)
        next.providers[2].apiKey = Secret("sk-rotated-key")
        let report = try mesh.reload(next)
        #expect(report.membership.isEmpty)
        #expect(report.providersRebuilt == ["p-vendor.c"])
        #expect(recorder.events(of: .poolMembershipChanged).isEmpty)

        let members = mesh.describe().pools[0].members
        #expect(members.first { $0.modelID == "vendor.b" }?.state == .standby)
        #expect(members.first { $0.modelID == "vendor.b" }?.reason == "manual")
        // A new key: the provider's deactivation does not carry over.
        #expect(mesh.describe().providers.first { $0.id == "p-vendor.c" }?.state == "active")
        let after = mesh.budget.spend(of: "global", now: Date())
        #expect(after.daily == spent)
        #expect(after.limits?.daily == 50)
        await mesh.shutdown()
    }

    @Test func unchangedProvidersKeepTheirConnectionsAndAChangedKeyIsUsedAtOnce() async throws {
        let upstream = try await FakeUpstream.start()
        let transport = HTTPTransport()
        upstream.setDefault(.openAIChatCompletion(content: "hi"), for: "/v1/chat/completions")
        func configuration(key: String, extraModel: Bool) -> MeshConfiguration {
            var config = MeshConfiguration()
            config.providers = [
                ProviderConfiguration(
                    id: "acme", connector: "openai-compatible.llm.v1", baseURL: upstream.url("/v1"), apiKey: Secret(key))
            ]
            config.models = [ModelConfiguration(id: "acme.one", provider: "acme", capabilities: [VendorCatalogue.chat])]
            if extraModel {
                config.models.append(ModelConfiguration(id: "acme.two", provider: "acme", capabilities: [VendorCatalogue.chat]))
            }
            config.pools = [PoolConfiguration(id: "chat", capability: "chat-completion")]
            config.observability.connectors = []
            return config
        }
        let mesh = try Mesh(
            configuration: configuration(key: "sk-first-key", extraModel: false),
            providers: .builtIn(transport: transport))
        let request = ChatCompletionRequest(model: "chat", messages: [.user("hi")])
        for _ in 0..<3 { _ = try await mesh.route(request) }
        #expect(upstream.activity.acceptedConnections == 1)

        // A model added, the provider unchanged: the same connection keeps serving.
        try mesh.reload(configuration(key: "sk-first-key", extraModel: true))
        for _ in 0..<3 { _ = try await mesh.route(request) }
        #expect(upstream.activity.acceptedConnections == 1)
        #expect(upstream.lastRequest?.header("authorization") == "Bearer sk-first-key")

        // A rotated key: the next request carries it.
        let report = try mesh.reload(configuration(key: "sk-second-key", extraModel: true))
        #expect(report.providersRebuilt == ["acme"])
        _ = try await mesh.route(request)
        #expect(upstream.lastRequest?.header("authorization") == "Bearer sk-second-key")
        await mesh.shutdown()
        try await transport.shutdown()
        try await upstream.shutdown()
    }

    @Test func anInvalidConfigurationChangesNothing() async throws {
        let recorder = RecordingConnector()
        let testMesh = Self.threeModels(recorder: recorder)
        let broken = "pools:\n  chat: {strategy: no-such-strategy, retry: {max_attempts: -1}}\n"
        try await withProxy(testMesh, proxy: Self.auth) { options, mesh in
            options.reloader = ConfigurationReloader(mesh: mesh, source: "broken.yaml") {
                try ConfigurationLoader.parse(yaml: broken)
            }
        } _: { client in
            let reload = try await client.send(.POST, "/v1/mesh/reload", headers: Self.admin)
            #expect(reload.status == 400)
            #expect(reload.json["error"]?["code"] == "invalid_configuration")
            // Every problem, as validate prints them, with its path.
            let message = reload.json["error"]?["message"]?.stringValue ?? ""
            #expect(message.contains("pools.chat.strategy"))
            #expect(message.contains("pools.chat.retry.max_attempts"))
            #expect(client.mesh.configurationVersion.version == 1)
            #expect(try await client.chat("chat", headers: Self.user).status == 200)
            // A user token is not an admin token.
            #expect(try await client.send(.POST, "/v1/mesh/reload", headers: Self.user).status == 403)
        }
    }

    @Test func sectionsSetUpAtStartNeedARestart() async throws {
        let recorder = RecordingConnector()
        let testMesh = Self.threeModels(recorder: recorder)
        let mesh = try testMesh.build()
        var (next, _) = testMesh.configuration()
        next.proxy.port = 9999
        next.storage.syncPolicy = .immediate
        #expect {
            try mesh.reload(next)
        } throws: { error in
            let message = (error as? ModelMeshError)?.message ?? ""
            return message.contains("proxy, storage") && message.contains("restart")
        }
        #expect(mesh.configurationVersion.version == 1)
        await mesh.shutdown()
    }

    @Test func reloadOverHTTPNeedsAuthOn() async throws {
        let recorder = RecordingConnector()
        try await withProxy(
            Self.threeModels(recorder: recorder),
            options: { options, mesh in
                options.reloader = ConfigurationReloader(mesh: mesh, source: nil) { mesh.configuration }
            }
        ) { client in
            let reload = try await client.send(.POST, "/v1/mesh/reload")
            #expect(reload.status == 403)
            #expect(reload.body.contains("SIGHUP"))
        }
    }

    @Test func theWatcherAppliesAChangedFileOnceAndSkipsAnInvalidOne() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mm-watch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("modelmesh.yaml").path
        func yaml(_ models: [String]) -> String {
            """
            providers:
              local: {connector: openai-compatible.llm.v1, base_url: "http://127.0.0.1:9/v1"}
            models:
            \(models.map { "  local.\($0): {provider: local, capabilities: [chat-completion]}" }.joined(separator: "\n"))
            pools:
              chat: {capability: chat-completion}
            observability: {connectors: []}
            """
        }
        try yaml(["one"]).write(toFile: path, atomically: true, encoding: .utf8)
        var registry = ProviderRegistry()
        registry.register(connector: "openai-compatible.llm.v1") { _ in MockProvider() }
        let mesh = try Mesh(configurationFile: path, providers: registry)
        let events = mesh.events.events()
        let reloader = ConfigurationReloader(mesh: mesh, source: path, logger: quietLogger) {
            try ConfigurationLoader.load(path: path)
        }
        let service = ConfigurationWatchService(reloader: reloader, path: path, interval: .milliseconds(20))
        let watcher = Task { try await service.run() }
        defer { watcher.cancel() }
        var changes = events.filter { $0.eventType == .poolMembershipChanged }.makeAsyncIterator()

        try yaml(["one", "two"]).write(toFile: path, atomically: true, encoding: .utf8)
        let first = await changes.next()
        #expect(first?.metadata["added"] == ["local.two"])
        #expect(mesh.configurationVersion.version == 2)

        // Invalid: nothing applies. Then a valid change is applied as the next version.
        try "pools: [".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError.self) { try reloader.reload(trigger: "test") }
        #expect(mesh.configurationVersion.version == 2)
        try yaml(["two"]).write(toFile: path, atomically: true, encoding: .utf8)
        let second = await changes.next()
        #expect(second?.metadata["removed"] == ["local.one"])
        #expect(mesh.configurationVersion.version == 3)
        #expect(mesh.describe().pools[0].members.map(\.modelID) == ["local.two"])
        watcher.cancel()
        await mesh.shutdown()
    }
}

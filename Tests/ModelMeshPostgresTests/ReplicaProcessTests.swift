import AsyncHTTPClient
import Foundation
import ModelMesh
import ModelMeshPostgres
import ModelMeshTesting
import NIOCore
import Testing

extension PostgresTests {
    /// `modelmesh serve` processes on one PostgreSQL schema, driven over HTTP: the replicas of a
    /// deployment, as a load balancer would see them.
    @Suite("Replica processes on one PostgreSQL", .timeLimit(.minutes(3)))
    struct ReplicaProcessTests {
        /// One `modelmesh serve` process.
        struct Serve {
            let process: ChildProcess
            let port: Int
            var baseURL: String { "http://127.0.0.1:\(port)" }

            /// Starts a replica on `config` and waits for its banner.
            static func start(config: String, directory: String, name: String) async throws -> Serve {
                let log = directory + "/\(name).log"
                let process = try ChildProcess(
                    TestPostgres.modelmeshBinary, ["serve", "--config", config, "--port", "0"], logPath: log)
                @Sendable func bannerPort() -> Int? {
                    let output = process.output
                    guard let range = output.range(of: #"listening on http://127\.0\.0\.1:\d+/v1"#, options: .regularExpression)
                    else { return nil }
                    return Int(output[range].split(separator: ":").last?.split(separator: "/").first ?? "")
                }
                try await waitUntil(.seconds(60), "replica \(name) printed its banner") { bannerPort() != nil }
                return Serve(process: process, port: try #require(bannerPort()))
            }

            /// Graceful stop (SIGTERM), waiting for the exit.
            func stop() async {
                process.signal(SIGTERM)
                await process.wait()
            }

            /// Routing events this replica wrote to its console (`[modelmesh] … <type> …`).
            func events(_ type: String, model: String) -> Int {
                process.output.split(separator: "\n").filter {
                    $0.hasPrefix("[modelmesh]") && $0.contains(" \(type) ") && $0.contains("model=\(model) ")
                }.count
            }
        }

        /// A directory with a configuration for `models` on the fake upstream, sharing `schema`.
        static func deployment(
            upstream: FakeUpstream, settings: PostgresStorageSettings, dailyLimit: Double?, lease: String = "30s",
            models: [String] = ["vendor.only"], storage: String? = nil, directory existing: String? = nil,
            name: String = "modelmesh"
        ) throws -> (directory: String, config: String) {
            let directory = existing ?? NSTemporaryDirectory() + "mm-replicas-" + UUID().uuidString.prefix(8)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let url = "postgres://\(settings.user)@\(settings.host):\(settings.port)/\(settings.database ?? "postgres")"
            var yaml = """
                providers:
                  fake: {connector: openai-compatible.llm.v1, base_url: "\(upstream.baseURL)/v1", api_key: "sk-replica-test"}
                models:

                """
            for model in models {
                // $1,000 per million output tokens: a max_tokens 500 request reserves $0.50, and
                // the fake answers with 500 completion tokens, so it costs exactly that.
                yaml += """
                      \(model): {provider: fake, capabilities: [chat-completion], pricing: {input_per_1m: 0, output_per_1m: 1000}}

                    """
            }
            yaml += """
                pools:
                  chat: {capability: chat-completion, retry: {max_attempts: 1}}
                storage: \(storage ?? "{connector: modelmesh.postgres.v1, url: \"\(url)\", schema: \(settings.schema), lease: \(lease), poll_interval: 200ms}")

                """
            if let dailyLimit { yaml += "budget: {daily_limit: \(dailyLimit)}\n" }
            let config = directory + "/\(name).yaml"
            try yaml.write(toFile: config, atomically: true, encoding: .utf8)
            return (directory, config)
        }

        static func chat(_ http: HTTPClient, _ replica: Serve, maxTokens: Int = 500, timeout: TimeAmount = .seconds(30))
            async throws -> (status: UInt, body: String)
        {
            var request = HTTPClientRequest(url: replica.baseURL + "/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(
                ByteBuffer(string: #"{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":\#(maxTokens)}"#))
            let response = try await http.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: 1 << 20)
            return (response.status.code, String(buffer: body))
        }

        static func post(_ http: HTTPClient, _ url: String) async throws -> UInt {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            let response = try await http.execute(request, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 20)
            return response.status.code
        }

        static func get(_ http: HTTPClient, _ url: String) async throws -> (status: UInt, body: String) {
            let response = try await http.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 22)
            return (response.status.code, String(buffer: body))
        }

        static func state(_ http: HTTPClient, _ replica: Serve) async throws -> JSONValue {
            try JSONDecoder().decode(JSONValue.self, from: Data(try await get(http, replica.baseURL + "/v1/mesh/state").body.utf8))
        }

        static func globalSpend(_ state: JSONValue) -> Double? {
            state["budgets"]?.arrayValue?.first { $0["scope"]?.stringValue == "global" }?["daily"]?.doubleValue
        }

        static func memberState(_ state: JSONValue, model: String) -> String? {
            state["pools"]?.arrayValue?.first?["members"]?.arrayValue?.first { $0["model_id"]?.stringValue == model }?["state"]?.stringValue
        }

        static func store(_ settings: PostgresStorageSettings) -> PostgresStateStore { PostgresStateStore(settings: settings) }

        static func dayKey() -> String { "global|d:\(utcDay())" }

        @Test("Replicas racing for the last dollars of a budget never overspend it, and fill it", arguments: [2, 3])
        func budgetRace(replicas count: Int) async throws {
            let upstream = try await FakeUpstream.start()
            upstream.setDefault(.openAIChatCompletion(usage: Usage(promptTokens: 10, completionTokens: 500)))
            let settings = try TestPostgres.settings()
            let (directory, config) = try Self.deployment(upstream: upstream, settings: settings, dailyLimit: 50)
            var replicas: [Serve] = []
            for index in 0..<count {
                replicas.append(try await Serve.start(config: config, directory: directory, name: "r\(index)"))
            }
            let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)

            // 300 requests of $0.50 against $50: exactly 100 fit. 48 in flight at a time, spread
            // over the replicas as a round-robin balancer would.
            let total = 300
            let outcomes = try await withThrowingTaskGroup(of: (status: UInt, body: String).self) { group in
                var results: [(status: UInt, body: String)] = []
                var next = 0
                func submit() {
                    let replica = replicas[next % count]
                    next += 1
                    group.addTask { try await Self.chat(http, replica) }
                }
                for _ in 0..<48 { submit() }
                for try await status in group {
                    results.append(status)
                    if next < total { submit() }
                }
                return results
            }
            let statuses = outcomes.map(\.status)
            let served = statuses.filter { $0 == 200 }.count
            let refused = statuses.filter { $0 == 402 }.count
            for other in outcomes.filter({ $0.status != 200 && $0.status != 402 }).prefix(3) {
                Issue.record("neither served nor refused for budget: \(other.status) \(other.body)")
            }
            // Settlements are delivered off the request path: wait for the last of them.
            try await waitUntil(.seconds(10), "every settlement reached the store") {
                try await withStore(Self.store(settings)) { store in
                    try await store.budgetRows(keys: [Self.dayKey()]).first?.reserved == 0
                }
            }
            let spent = try await withStore(Self.store(settings)) { store in
                try await store.budgetRows(keys: [Self.dayKey()]).first
            }
            print("budget race, \(count) replicas: \(served) served, \(refused) refused (402), other \(total - served - refused); settled \(Double(spent?.spent ?? -1) / 1e9) of $50, reserved left \(spent?.reserved ?? -1)")
            #expect(served == 100)
            #expect(refused == 200)
            #expect(spent?.spent == 50_000_000_000)
            #expect(spent?.reserved == 0)
            #expect(upstream.requests(to: "/v1/chat/completions").count == 100)

            for replica in replicas { await replica.stop() }
            try await http.shutdown()
            try await upstream.shutdown()
            try? FileManager.default.removeItem(atPath: directory)
        }

        @Test("A model deactivated through replica A is skipped by B (the delay is printed); activated on B, it is back on A; one event each")
        func sharedActions() async throws {
            let upstream = try await FakeUpstream.start()
            upstream.setDefault(.openAIChatCompletion(usage: Usage(promptTokens: 10, completionTokens: 5)))
            let settings = try TestPostgres.settings()
            let (directory, config) = try Self.deployment(
                upstream: upstream, settings: settings, dailyLimit: nil, models: ["vendor.first", "vendor.second"])
            let a = try await Serve.start(config: config, directory: directory, name: "a")
            let b = try await Serve.start(config: config, directory: directory, name: "b")
            let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
            try await waitUntil(.seconds(10), "both replicas reached the store") {
                let sa = try await Self.state(http, a), sb = try await Self.state(http, b)
                return sa["storage"]?["state"]?.stringValue == "available" && sb["storage"]?["state"]?.stringValue == "available"
            }

            #expect(try await Self.post(http, a.baseURL + "/v1/mesh/models/vendor.first/deactivate") == 200)
            let seen = try await waitUntil(.seconds(5), "replica B showed vendor.first down") {
                Self.memberState(try await Self.state(http, b), model: "vendor.first") == "standby"
            }
            print("deactivation on A seen by B after \(seen)")
            let before = upstream.requests(to: "/v1/chat/completions").count
            #expect(try await Self.chat(http, b, maxTokens: 5).status == 200)
            let routed = upstream.requests(to: "/v1/chat/completions").dropFirst(before).first?.bodyText ?? ""
            #expect(routed.contains(#""model":"second""#))

            #expect(try await Self.post(http, b.baseURL + "/v1/mesh/models/vendor.first/activate") == 200)
            let back = try await waitUntil(.seconds(5), "replica A showed vendor.first back") {
                Self.memberState(try await Self.state(http, a), model: "vendor.first") == "active"
            }
            print("activation on B seen by A after \(back)")

            await a.stop()
            await b.stop()
            // Each transition's event came from the replica that made it, once for the mesh.
            #expect(a.events("model_deactivated", model: "vendor.first") == 1)
            #expect(b.events("model_deactivated", model: "vendor.first") == 0)
            #expect(b.events("model_activated", model: "vendor.first") == 1)
            #expect(a.events("model_activated", model: "vendor.first") == 0)
            try await http.shutdown()
            try await upstream.shutdown()
            try? FileManager.default.removeItem(atPath: directory)
        }

        @Test("A killed replica's reservations are released after the lease; restarted, the replicas keep state and spend")
        func killedReplica() async throws {
            let upstream = try await FakeUpstream.start()
            let settings = try TestPostgres.settings()
            let (directory, config) = try Self.deployment(
                upstream: upstream, settings: settings, dailyLimit: 10, lease: "2s", models: ["vendor.only", "vendor.spare"])
            let a = try await Serve.start(config: config, directory: directory, name: "a")
            let b = try await Serve.start(config: config, directory: directory, name: "b")
            let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)

            // Two requests settled ($1), then vendor.spare taken out by hand.
            upstream.setDefault(.openAIChatCompletion(usage: Usage(promptTokens: 10, completionTokens: 500)))
            #expect(try await Self.chat(http, a).status == 200)
            #expect(try await Self.chat(http, b).status == 200)
            #expect(try await Self.post(http, a.baseURL + "/v1/mesh/models/vendor.spare/deactivate") == 200)

            // Four requests to A that the upstream never answers: $2 held by A.
            upstream.setDefault(.silence)
            let hanging = (0..<4).map { _ in Task { try? await Self.chat(http, a, timeout: .seconds(60)) } }
            await upstream.waitForRequests(2 + 4)
            // The first two settlements are delivered off the request path.
            try await waitUntil(.seconds(5), "the first two requests were settled") {
                try await withStore(Self.store(settings)) { store in
                    try await store.budgetRows(keys: [Self.dayKey()]).first?.spent == 1_000_000_000
                }
            }
            let held = try await withStore(Self.store(settings)) { store in
                try await store.budgetRows(keys: [Self.dayKey()]).first
            }
            #expect(held?.reserved == 2_000_000_000)
            #expect(held?.spent == 1_000_000_000)

            a.process.signal(SIGKILL)
            await a.process.wait()
            for task in hanging { task.cancel() }
            // B's heartbeat (every lease/3) releases them once A has not reported for the lease.
            let released = try await waitUntil(.seconds(10), "the dead replica's reservations were released") {
                try await withStore(Self.store(settings)) { store in
                    try await store.budgetRows(keys: [Self.dayKey()]).first?.reserved == 0
                }
            }
            print("reservations of a killed replica released after \(released) (lease 2 s)")

            // Every replica restarted: spend and the manual deactivation are still there.
            await b.stop()
            upstream.setDefault(.openAIChatCompletion(usage: Usage(promptTokens: 10, completionTokens: 500)))
            let c = try await Serve.start(config: config, directory: directory, name: "c")
            try await waitUntil(.seconds(10), "the restarted replica read the shared state") {
                let state = try await Self.state(http, c)
                return Self.globalSpend(state) == 1.0
                    && Self.memberState(state, model: "vendor.spare") == "standby"
            }
            #expect(try await Self.chat(http, c).status == 200)
            // Settlements are delivered off the request path, right after the answer.
            try await waitUntil(.seconds(5), "the new request's settlement reached the store") {
                try await withStore(Self.store(settings)) { store in
                    try await store.budgetRows(keys: [Self.dayKey()]).first?.reserved == 0
                }
            }
            let after = try await withStore(Self.store(settings)) { store in
                try await store.budgetRows(keys: [Self.dayKey()]).first
            }
            #expect(after?.spent == 1_500_000_000)
            #expect(after?.reserved == 0)
            await c.stop()
            try await http.shutdown()
            try await upstream.shutdown()
            try? FileManager.default.removeItem(atPath: directory)
        }
            @Test("storage migrate --from copies a local-file store's states and spend, once however often it runs")
        func migrateFromLocalFile() async throws {
            let upstream = try await FakeUpstream.start()
            upstream.setDefault(.openAIChatCompletion(usage: Usage(promptTokens: 10, completionTokens: 500)))
            let settings = try TestPostgres.settings()
            let models = ["vendor.only", "vendor.spare"]
            let directory = NSTemporaryDirectory() + "mm-replicas-" + UUID().uuidString.prefix(8)
            let stateDirectory = directory + "/state"
            let (_, fileConfig) = try Self.deployment(
                upstream: upstream, settings: settings, dailyLimit: 10, models: models,
                storage: "{connector: modelmesh.local-file.v1, path: \"\(stateDirectory)\"}", directory: directory,
                name: "file")
            let (_, sharedConfig) = try Self.deployment(
                upstream: upstream, settings: settings, dailyLimit: 10, models: models, directory: directory,
                name: "shared")
            let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)

            // A single proxy on the local file: $1 spent, vendor.spare taken out by hand.
            let single = try await Serve.start(config: fileConfig, directory: directory, name: "single")
            #expect(try await Self.chat(http, single).status == 200)
            #expect(try await Self.chat(http, single).status == 200)
            #expect(try await Self.post(http, single.baseURL + "/v1/mesh/models/vendor.spare/deactivate") == 200)
            await single.stop()

            for run in 0..<2 {
                let status = try await ChildProcess.run(
                    TestPostgres.modelmeshBinary, ["storage", "migrate", "--config", sharedConfig, "--from", stateDirectory],
                    logPath: directory + "/migrate\(run).log")
                let output = (try? String(contentsOfFile: directory + "/migrate\(run).log", encoding: .utf8)) ?? ""
                #expect(status == 0, "\(output)")
                #expect(output.contains("Imported"), "\(output)")
            }
            let rows = try await withStore(Self.store(settings)) { store in
                try await store.budgetRows(keys: [Self.dayKey(), "global|total"])
            }
            #expect(rows.map(\.spent) == [1_000_000_000, 1_000_000_000])

            let replica = try await Serve.start(config: sharedConfig, directory: directory, name: "replica")
            try await waitUntil(.seconds(10), "the replica on PostgreSQL showed the imported state") {
                let state = try await Self.state(http, replica)
                return Self.globalSpend(state) == 1.0 && Self.memberState(state, model: "vendor.spare") == "standby"
            }
            await replica.stop()
            try await http.shutdown()
            try await upstream.shutdown()
            try? FileManager.default.removeItem(atPath: directory)
        }

        @Test("Without the database /ready says degraded (503 as configured) and the metrics count the outage; it recovers")
        func readinessAndMetrics() async throws {
            try await OwnPostgres.with { server, settings in
                let upstream = try await FakeUpstream.start()
                upstream.setDefault(.openAIChatCompletion(usage: Usage(promptTokens: 10, completionTokens: 5)))
                let url = "postgres://\(settings.user)@\(settings.host):\(settings.port)/postgres"
                let (directory, config) = try Self.deployment(
                    upstream: upstream, settings: settings, dailyLimit: nil,
                    storage: "{connector: modelmesh.postgres.v1, url: \"\(url)\", schema: \(settings.schema), poll_interval: 200ms, unavailable_ready_status: 503}")
                let replica = try await Serve.start(config: config, directory: directory, name: "replica")
                let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
                try await waitUntil(.seconds(10), "the replica reached the store") {
                    try await Self.get(http, replica.baseURL + "/ready").status == 200
                }
                #expect(try await Self.get(http, replica.baseURL + "/metrics").body.contains("modelmesh_storage_available 1"))

                try await server.stop()
                try await waitUntil(.seconds(10), "/ready reported the store gone") {
                    try await Self.get(http, replica.baseURL + "/ready").status == 503
                }
                let ready = try await Self.get(http, replica.baseURL + "/ready").body
                #expect(ready.contains(#""status":"degraded""#), "\(ready)")
                // No limits: requests are served from the last known state.
                #expect(try await Self.chat(http, replica, maxTokens: 5).status == 200)
                let metrics = try await Self.get(http, replica.baseURL + "/metrics").body
                #expect(metrics.contains("modelmesh_storage_available 0"), "\(metrics)")
                #expect(metrics.contains("modelmesh_storage_outages 1"), "\(metrics)")

                try await server.restart()
                try await waitUntil(.seconds(20), "/ready recovered") {
                    try await Self.get(http, replica.baseURL + "/ready").status == 200
                }
                #expect(try await Self.get(http, replica.baseURL + "/metrics").body.contains("modelmesh_storage_available 1"))
                await replica.stop()
                #expect(replica.process.output.components(separatedBy: "The shared store is unreachable").count == 2)
                try await http.shutdown()
                try await upstream.shutdown()
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
    }
}

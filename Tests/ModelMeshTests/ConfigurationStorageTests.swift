import Testing

@testable import ModelMesh

@Suite("storage: modelmesh.postgres.v1")
struct ConfigurationStorageTests {
    static let base = """
        providers:
          openai: {api_key: k}
        models:
          openai.gpt-4o: {provider: openai, capabilities: [chat]}

        """

    @Test("A URL gives every connection setting; the defaults fill the rest")
    func url() throws {
        let yaml = Self.base + "storage: {connector: modelmesh.postgres.v1, url: 'postgres://mesh:p%40ss@db.internal:6543/gateway?sslmode=require'}\n"
        let storage = try ConfigurationLoader.parse(yaml: yaml, environment: [:]).storage
        let postgres = try #require(storage.postgres)
        #expect(storage.isShared)
        #expect(postgres.host == "db.internal")
        #expect(postgres.port == 6543)
        #expect(postgres.user == "mesh")
        #expect(postgres.password == "p@ss")
        #expect(postgres.database == "gateway")
        #expect(postgres.tls == .require)
        #expect(postgres.schema == "modelmesh")
        #expect(postgres.poolSize == 8)
        #expect(storage.onUnavailable == .failClosed)
        #expect(storage.lease == .seconds(30))
        #expect(storage.pollInterval == .seconds(1))
        #expect(storage.unavailableReadyStatus == 200)
    }

    @Test("Every key is read, the URL from a secret")
    func everyKey() throws {
        let yaml =
            Self.base + """
                storage:
                  connector: modelmesh.postgres.v1
                  url: ${secrets:PG_URL}
                  host: other.internal
                  password: ${secrets:PG_PASSWORD}
                  tls: prefer
                  schema: mesh_eu
                  pool_size: 20
                  on_unavailable: fail_open
                  lease: 10s
                  poll_interval: 250ms
                  unavailable_ready_status: 503
                """
        let storage = try ConfigurationLoader.parse(
            yaml: yaml, environment: ["PG_URL": "postgres://u@db:5433/d", "PG_PASSWORD": "hunter2"]
        ).storage
        let postgres = try #require(storage.postgres)
        #expect(postgres.host == "other.internal")
        #expect(postgres.port == 5433)
        #expect(postgres.user == "u")
        #expect(postgres.password == "hunter2")
        #expect(postgres.tls == .prefer)
        #expect(postgres.schema == "mesh_eu")
        #expect(postgres.poolSize == 20)
        #expect(storage.onUnavailable == .failOpen)
        #expect(storage.lease == .seconds(10))
        #expect(storage.pollInterval == .milliseconds(250))
        #expect(storage.unavailableReadyStatus == 503)
    }

    @Test(
        "Bad values are reported at their path",
        arguments: [
            ("url: 'mysql://db/x'", ConfigurationIssue.Kind.invalidValue, "url"),
            ("schema: 'Drop Table'", .invalidValue, "schema"),
            ("pool_size: 1", .invalidValue, "pool_size"),
            ("tls: always", .invalidValue, "tls"),
            ("on_unavailable: maybe", .invalidValue, "on_unavailable"),
            ("lease: 100ms", .invalidValue, "lease"),
            ("poll_interval: 10ms", .invalidValue, "poll_interval"),
            ("unavailable_ready_status: 500", .invalidValue, "unavailable_ready_status"),
            ("sync_policy: periodic", .notSupported, "sync_policy"),
        ])
    func badValues(line: String, kind: ConfigurationIssue.Kind, key: String) {
        let yaml = Self.base + "storage:\n  connector: modelmesh.postgres.v1\n  \(line)\n"
        let found = ConfigurationLoader.validate(yaml: yaml, environment: [:])
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.kind == kind, "\(found)")
        #expect(found.first?.path == "storage.\(key)", "\(found)")
        #expect(found.first?.hint?.isEmpty == false)
    }

    @Test("The PostgreSQL keys do nothing for the local stores, so they are rejected there", arguments: [
        "modelmesh.memory.v1", "modelmesh.local-file.v1",
    ])
    func keysOfOtherConnectors(connector: String) {
        for line in ["url: 'postgres://db/x'", "on_unavailable: fail_open", "schema: mesh", "lease: 5s"] {
            let yaml = Self.base + "storage:\n  connector: \(connector)\n  \(line)\n"
            let found = ConfigurationLoader.validate(yaml: yaml, environment: [:])
            let key = String(line.prefix { $0 != ":" })
            #expect(found.contains { $0.path == "storage.\(key)" }, "\(connector) \(line): \(found)")
        }
    }
}

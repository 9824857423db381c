import Foundation
import InMemoryLogging
import Logging
import ModelMesh
import ModelMeshProviders
import ModelMeshTesting
import Synchronization
import Testing

/// Every secret of the configuration stays out of everything the proxy produces: log
/// lines, events, request logs, traces, answers and error bodies, metrics and the state.
@Suite struct SecretHygieneTests {
    final class Everything: ObservabilityConnector {
        private let lines = Mutex<[String]>([])
        func emit(_ event: RoutingEvent) throws { lines.withLock { $0.append(event.jsonLine()) } }
        func log(_ entry: RequestLogEntry) throws { lines.withLock { $0.append("\(entry)") } }
        func trace(_ entry: TraceEntry) throws { lines.withLock { $0.append("\(entry)") } }
        func flush(_ stats: [String: AggregateStats]) throws { lines.withLock { $0.append("\(stats)") } }
        var all: [String] { lines.withLock { $0 } }
    }

    static let upstreamKey = "sk-live-upstream-key-0123456789"
    static let backupKey = "sk-live-backup-key-9876543210"
    static let headerSecret = "org-secret-header-value-42"
    static let clientToken = "client-token-abcdef123456"
    static let adminToken = "admin-token-fedcba654321"

    @Test func noConfiguredSecretReachesAnyOutput() async throws {
        let fake = try await FakeUpstream.start()
        // A hostile upstream that echoes the key it was sent in its error body.
        fake.enqueue(
            .openAIError(
                status: 401, message: "Incorrect API key provided: \(Self.upstreamKey)", code: "invalid_api_key"),
            for: "/v1/chat/completions")
        fake.setDefault(.openAIChatCompletion(content: "fine"), for: "/v1/chat/completions")

        let transport = HTTPTransport()
        let logs = InMemoryLogHandler()
        let logger = Logger(label: "proxy", factory: { _ in logs })
        let everything = Everything()
        let scanner = SecretScanner(
            secrets: [Self.upstreamKey, Self.backupKey, Self.headerSecret, Self.clientToken, Self.adminToken])
        do {
            func provider(_ id: String, key: String) throws -> OpenAICompatibleProvider {
                var configuration = ProviderConfiguration(
                    id: id, connector: "openai.llm.v1", baseURL: fake.url("/v1"), apiKey: Secret(key))
                configuration.headers = ["openai-organization": Secret(Self.headerSecret)]
                return try OpenAICompatibleProvider(configuration: configuration, transport: transport)
            }
            var mesh = TestMesh(models: [
                ("primary.gpt-4o", try provider("p-primary.gpt-4o", key: Self.upstreamKey)),
                ("backup.gpt-4o", try provider("p-backup.gpt-4o", key: Self.backupKey)),
            ])
            mesh.connectors = [everything]
            try await withProxy(
                mesh,
                proxy: {
                    $0.tokens = [Secret(Self.clientToken)]
                    $0.adminTokens = [Secret(Self.adminToken)]
                }, logger: logger
            ) { client in
                let auth = [("authorization", "Bearer \(Self.clientToken)")]
                let chat = #"{"model": "chat", "messages": [{"role": "user", "content": "hi"}]}"#
                var responses: [(String, TestResponse)] = []
                responses.append(("chat after a 401", try await client.send(.POST, "/v1/chat/completions", body: chat, headers: auth)))
                responses.append(("chat", try await client.send(.POST, "/v1/chat/completions", body: chat, headers: auth)))
                responses.append(("bad token", try await client.send(.POST, "/v1/chat/completions", body: chat, headers: [("authorization", "Bearer \(Self.clientToken)x")])))
                responses.append(("operator with a client token", try await client.send(.POST, "/v1/mesh/providers/p-primary.gpt-4o/activate", headers: auth)))
                responses.append(("state", try await client.send(.GET, "/v1/mesh/state", headers: auth)))
                responses.append(("metrics", try await client.send(.GET, "/metrics", headers: auth)))
                responses.append(("explain", try await client.send(.POST, "/v1/mesh/explain", body: chat, headers: auth)))
                #expect(responses[0].1.status == 200)
                #expect(responses[0].1.header("x-modelmesh-model") == "backup.gpt-4o")
                for (name, response) in responses {
                    scanner.scan(response.body, from: name)
                    scanner.scan(response.headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n"), from: name + " headers")
                }
                let state = try JSONEncoder().encode(client.mesh.describe())
                scanner.scan(String(decoding: state, as: UTF8.self), from: "describe()")
            }
        } catch {
            try await transport.shutdown()
            throw error
        }
        try await transport.shutdown()
        try await fake.shutdown()

        for line in everything.all { scanner.scan(line, from: "observability") }
        for entry in logs.entries { scanner.scan("\(entry.message) \(entry.metadata)", from: "log line") }
        // The upstream did receive the keys: the scan is looking at the right values.
        let sent = fake.requests.compactMap { $0.headers.first { $0.name.lowercased() == "authorization" }?.value }
        #expect(sent.contains("Bearer \(Self.upstreamKey)"))
        #expect(everything.all.contains { $0.contains("provider_deactivated") })
        #expect(scanner.scannedCount > 10)
        #expect(scanner.leaks.isEmpty, "\(scanner.leaks)")
    }
}

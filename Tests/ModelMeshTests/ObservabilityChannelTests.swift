import Foundation
import ModelMesh
import ModelMeshTesting
import Testing

/// Each connector receives only the channels it is configured for.
@Suite struct ObservabilityChannelTests {
    private final class Scratch: Sendable {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "modelmesh-channels-\(UUID().uuidString)")
        func path(_ name: String) -> String { url.appendingPathComponent(name).path }
        deinit { try? FileManager.default.removeItem(at: url) }
    }

    private func objects(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    /// A mesh over two mock providers (the first always fails) with the given observability YAML.
    private func mesh(observability: String) throws -> (Mesh, TestClock) {
        let yaml = """
            providers:
              flaky: {connector: openai.llm.v1, api_key: k}
              steady: {connector: openai.llm.v1, api_key: k}
            models:
              flaky.model: {provider: flaky, capabilities: [chat]}
              steady.model: {provider: steady, capabilities: [chat]}
            pools:
              chat:
                capability: chat
                retry: {max_attempts: 1}
                deactivation: {retry_limit: 1}
            \(observability)
            """
        let configuration = try ConfigurationLoader.parse(yaml: yaml, environment: [:])
        var registry = ProviderRegistry()
        registry.register(provider: "flaky", instance: MockProvider(fallback: .fail(.serverError, status: 503)))
        registry.register(provider: "steady", instance: MockProvider(fallback: .reply("a long answer from the backup")))
        let clock = TestClock()
        return (try Mesh(configuration: configuration, providers: registry, clock: clock, jitter: { 1 }), clock)
    }

    @Test func routingFileGetsEventsOnlyAndLoggingFileRequestLogsOnly() async throws {
        let scratch = Scratch()
        let (events, requests) = (scratch.path("events.jsonl"), scratch.path("requests.jsonl"))
        let (mesh, _) = try mesh(
            observability: """
                observability:
                  routing: {connector: modelmesh.local-file.v1, path: "\(events)"}
                  logging: {connector: modelmesh.local-file.v1, path: "\(requests)", level: full}
                  tracing: {min_severity: debug}
                """)
        for _ in 0..<3 {
            _ = try await mesh.route(ChatCompletionRequest(model: "chat", messages: [.user("hello")]))
        }
        await mesh.shutdown()

        let eventLines = try objects(events)
        #expect(!eventLines.isEmpty)
        for line in eventLines {
            #expect(line["event_type"] is String)
            #expect(line["kind"] == nil)
        }
        let types = Set(eventLines.compactMap { $0["event_type"] as? String })
        #expect(types.isSuperset(of: ["model_deactivated", "model_rotated"]))

        let logLines = try objects(requests)
        #expect(logLines.count == 3)
        for line in logLines {
            #expect(line["kind"] as? String == "request_log")
            #expect(line["event_type"] == nil)
        }
    }

    @Test func connectorListEntriesChooseTheirChannels() async throws {
        let scratch = Scratch()
        let (events, everything) = (scratch.path("events.jsonl"), scratch.path("all.jsonl"))
        let (mesh, _) = try mesh(
            observability: """
                observability:
                  connectors:
                    - {connector: modelmesh.local-file.v1, path: "\(events)"}
                    - {connector: modelmesh.local-file.v1, path: "\(everything)", channels: [events, logs, stats, traces]}
                """)
        _ = try await mesh.route(ChatCompletionRequest(model: "chat", messages: [.user("hello")]))
        await mesh.shutdown()
        #expect(try objects(events).allSatisfy { $0["event_type"] is String && $0["kind"] == nil })
        let kinds = Set(try objects(everything).map { ($0["kind"] as? String) ?? "event" })
        #expect(kinds.isSuperset(of: ["event", "request_log", "statistics"]))
    }

    @Test func payloadsInRequestLogsAreCutToMaxPayloadSize() async throws {
        let scratch = Scratch()
        let requests = scratch.path("requests.jsonl")
        let (mesh, _) = try mesh(
            observability: """
                observability:
                  logging: {connector: modelmesh.local-file.v1, path: "\(requests)", level: full, max_payload_size: 16}
                """)
        _ = try await mesh.route(
            ChatCompletionRequest(model: "chat", messages: [.user("héllo wörld, this prompt is long")]))
        await mesh.shutdown()
        let line = try #require(try objects(requests).first)
        let response = try #require(line["response"] as? String)
        #expect(response.utf8.count <= 16)
        #expect(response.hasSuffix(RequestLogRedactor.cutMarker))
        if let prompt = line["prompt"] as? String {
            #expect(prompt.utf8.count <= 16)
        }
    }

    // MARK: The pieces

    @Test func cutKeepsWholeCharactersAndNeverExceedsTheLimit() {
        let marker = RequestLogRedactor.cutMarker
        #expect(RequestLogRedactor.cut("short", toBytes: 64) == "short")
        let cut = RequestLogRedactor.cut(String(repeating: "é", count: 40), toBytes: 30)
        #expect(cut.utf8.count <= 30)
        #expect(cut.hasSuffix(marker))
        #expect(cut == String(repeating: "é", count: (30 - marker.utf8.count) / 2) + marker)
        #expect(RequestLogRedactor.cut(cut, toBytes: 30) == cut)
        // Below the marker's size: just the prefix.
        #expect(RequestLogRedactor.cut("abcdefgh", toBytes: 4) == "abcd")
        #expect(RequestLogRedactor.cut("👍👍", toBytes: 5) == "👍")
        let redactor = RequestLogRedactor(level: .full, maxPayloadBytes: 20)
        let entry = redactor.redact(
            RequestLogEntry(
                requestID: "r", timestamp: Date(), status: 200, latencyMs: 1, prompt: String(repeating: "p", count: 50),
                response: "ok"))
        #expect(entry.prompt?.utf8.count == 20)
        #expect(entry.response == "ok")
    }

    @Test func filteredConnectorAppliesChannelsSeverityAndScopes() throws {
        let recorder = RecordingConnector()
        let filtered = FilteredConnector(
            recorder, channels: [.statistics, .traces], traceMinSeverity: .warning, statisticsScopes: [.pool])
        try filtered.emit(RoutingEvent(eventType: .modelRotated, poolID: "chat"))
        try filtered.log(RequestLogEntry(requestID: "r", timestamp: Date(), status: 200, latencyMs: 1))
        try filtered.trace(TraceEntry(severity: .info, component: "router", message: "quiet"))
        try filtered.trace(TraceEntry(severity: .error, component: "router", message: "loud"))
        try filtered.flush(["pool:chat": AggregateStats(), "model:a": AggregateStats()])
        try filtered.flush(["model:a": AggregateStats()])
        #expect(recorder.events.isEmpty)
        #expect(recorder.logs.isEmpty)
        #expect(recorder.traces.map(\.message) == ["loud"])
        #expect(recorder.statistics.map { Array($0.keys) } == [["pool:chat"]])
    }

    @Test func emitterTreatsAFilteredConnectorAsItsBase() {
        let recorder = RecordingConnector()
        let emitter = EventEmitter()
        emitter.subscribe(FilteredConnector(recorder, channels: [.events]))
        emitter.subscribe(recorder)
        #expect(emitter.connectors.count == 1)
        #expect(emitter.connectors.first === recorder)
        emitter.emit(RoutingEvent(eventType: .modelRotated, poolID: "chat"))
        emitter.log(RequestLogEntry(requestID: "r", timestamp: Date(), status: 200, latencyMs: 1))
        #expect(recorder.events.count == 1)
        #expect(recorder.logs.isEmpty)
        emitter.unsubscribe(recorder)
        #expect(emitter.connectors.isEmpty)

        emitter.subscribe(recorder, events: nil, channels: [.logs])
        emitter.emit(RoutingEvent(eventType: .modelRotated, poolID: "chat"))
        emitter.log(RequestLogEntry(requestID: "r", timestamp: Date(), status: 200, latencyMs: 1))
        #expect(recorder.events.count == 1)
        #expect(recorder.logs.count == 1)
    }

    @Test func registryWrapsOnlyWhatTheConfigurationRestricts() throws {
        var configuration = ObservabilityConfiguration()
        configuration.connectors = [
            .init(connector: "modelmesh.null.v1"),
            .init(connector: "modelmesh.null.v1", channels: [.events]),
        ]
        let built = try ObservabilityRegistry.builtIn.makeConnectors(for: configuration)
        #expect(built[0].0 is NullConnector)
        let wrapped = try #require(built[1].0 as? FilteredConnector)
        #expect(wrapped.base is NullConnector)
        #expect(wrapped.channels == [.events])
        configuration.maxPayloadSize = 100
        #expect(try ObservabilityRegistry.builtIn.makeConnectors(for: configuration)[0].0 is FilteredConnector)
    }
}

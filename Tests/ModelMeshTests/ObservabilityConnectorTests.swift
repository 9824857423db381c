import Foundation
import Synchronization
import Testing

@testable import ModelMesh

/// A scratch directory removed at the end of the test.
private struct ScratchDirectory: ~Copyable {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("modelmesh-obs-\(UUID().uuidString)")
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    deinit { try? FileManager.default.removeItem(at: url) }
}

private func readLines(_ path: String) throws -> [String] {
    try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
}

private func jsonObject(_ line: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
}

private func event(_ index: Int) -> RoutingEvent {
    RoutingEvent(eventType: .modelRotated, modelID: "b", poolID: "chat", metadata: ["n": .int(index)])
}

@Suite struct ConsoleConnectorTests {
    private final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        var sink: @Sendable (String) -> Void { { [self] line in lines.withLock { $0.append(line) } } }
        var all: [String] { lines.withLock { $0 } }
    }

    @Test func eventLineFormat() throws {
        let lines = Lines()
        let console = ConsoleConnector(sink: lines.sink)
        let stamp = try #require(Timestamp.parse("2026-01-15T12:00:00.123Z"))
        try console.emit(
            RoutingEvent(
                eventType: .modelRotated, timestamp: stamp, modelID: "b", poolID: "chat",
                metadata: ["from_model": "a", "reason": "server_error"]))
        try console.emit(
            RoutingEvent(
                eventType: .providerDeactivated, timestamp: stamp.addingTimeInterval(3661.004), providerID: "openai",
                metadata: ["reason": "auth failure", "models": ["a", "b"]]))
        #expect(lines.all == [
            "[modelmesh] 12:00:00.123 model_rotated pool=chat model=b from_model=a reason=server_error",
            #"[modelmesh] 13:01:01.127 provider_deactivated provider=openai models=["a","b"] reason="auth failure""#,
        ])
    }

    @Test func otherChannelsOnlyWhenEnabled() throws {
        let quiet = Lines()
        let verbose = Lines()
        let entry = RequestLogEntry(
            requestID: "r1", timestamp: Date(), poolID: "chat", modelID: "a", status: 502, latencyMs: 12.4,
            tokensIn: 3, tokensOut: 0, error: "upstream failed")
        let connectors = [
            ConsoleConnector(sink: quiet.sink),
            ConsoleConnector(options: .init(requests: true, statistics: true, traceMinSeverity: .debug), sink: verbose.sink),
        ]
        for console in connectors {
            try console.log(entry)
            try console.flush(["pool:chat": AggregateStats()])
            try console.trace(TraceEntry(severity: .info, component: "router", message: "routed"))
            try console.trace(TraceEntry(severity: .error, component: "router", message: "all failed"))
        }
        #expect(quiet.all.count == 1)
        #expect(quiet.all.first?.hasSuffix(#"error "all failed" component=router"#) == true)
        #expect(verbose.all.count == 4)
        #expect(verbose.all.first?.contains(#"request id=r1 pool=chat model=a status=502 latency_ms=12"#) == true)
        #expect(verbose.all.first?.hasSuffix(#"error="upstream failed""#) == true)
    }

    @Test func configurationSettings() throws {
        let bad = ObservabilityConnectorConfiguration(connector: ConsoleConnector.id, settings: ["target": "printer"])
        #expect(throws: ObservabilityError.self) { try ConsoleConnector(configuration: bad) }
        let ok = ObservabilityConnectorConfiguration(
            connector: ConsoleConnector.id, settings: ["target": "stderr", "requests": true, "min_severity": "none"])
        _ = try ConsoleConnector(configuration: ok)
    }
}

@Suite struct LocalFileConnectorTests {
    @Test func writesValidJSONLinesForEveryChannel() async throws {
        let dir = ScratchDirectory()
        let path = dir.path("logs/events.jsonl")
        let file = try LocalFileConnector(options: .init(path: path))
        for index in 0..<3 { try file.emit(event(index)) }
        try file.log(
            RequestLogEntry(
                requestID: "r1", timestamp: Date(), poolID: "chat", modelID: "a", status: 200, latencyMs: 42,
                attempts: [AttemptRecord(modelID: "a", providerID: "p", errorClass: nil, status: 200, latencyMs: 40)]))
        try file.flush(["model:a": AggregateStats(), "pool:chat": AggregateStats()])
        try file.trace(TraceEntry(severity: .warning, component: "router", message: "retrying"))
        try file.trace(TraceEntry(severity: .debug, component: "router", message: "below min severity"))
        await file.shutdown()

        let lines = try readLines(path)
        #expect(lines.count == 7)
        let objects = try lines.map(jsonObject)
        for (index, object) in objects.prefix(3).enumerated() {
            #expect(Set(object.keys) == ["event_type", "timestamp", "model_id", "provider_id", "pool_id", "metadata"])
            #expect((object["metadata"] as? [String: Int])?["n"] == index)
        }
        #expect(objects[3]["kind"] as? String == "request_log")
        #expect(objects[3]["request_id"] as? String == "r1")
        let logStamp = try #require(objects[3]["timestamp"] as? String)
        #expect(logStamp.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil)
        #expect(objects[4]["kind"] as? String == "statistics" && objects[4]["scope"] as? String == "model:a")
        #expect(objects[4]["requests_total"] as? Int == 0)
        #expect(objects[5]["scope"] as? String == "pool:chat")
        #expect(objects[6]["kind"] as? String == "trace" && objects[6]["message"] as? String == "retrying")
        #expect(file.droppedCount == 0)
    }

    @Test func appendsToAnExistingFile() async throws {
        let dir = ScratchDirectory()
        let path = dir.path("events.jsonl")
        for round in 0..<2 {
            let file = try LocalFileConnector(options: .init(path: path))
            try file.emit(event(round))
            await file.shutdown()
        }
        #expect(try readLines(path).count == 2)
    }

    @Test func rotatesBySizeKeepingMaxFiles() async throws {
        let dir = ScratchDirectory()
        let path = dir.path("events.jsonl")
        let lineSize = event(10).jsonLine().utf8.count + 1
        var options = LocalFileConnector.Options(path: path)
        options.maxSize = lineSize * 10
        options.maxFiles = 2
        let file = try LocalFileConnector(options: options)
        for index in 10..<60 { try file.emit(event(index)) }
        await file.shutdown()

        let manager = FileManager.default
        #expect(manager.fileExists(atPath: path + ".1"))
        #expect(manager.fileExists(atPath: path + ".2"))
        #expect(!manager.fileExists(atPath: path + ".3"))
        var numbers: [Int] = []
        for name in [path + ".2", path + ".1", path] {
            let size = try #require(try manager.attributesOfItem(atPath: name)[.size] as? Int)
            #expect(size <= options.maxSize)
            for line in try readLines(name) {
                numbers.append(try #require((try jsonObject(line)["metadata"] as? [String: Int])?["n"]))
            }
        }
        // Oldest rotated file first: the kept records are the newest 30, in order.
        #expect(numbers == Array(30..<60))
    }

    @Test func dropsAndCountsWhenTheBufferIsFull() async throws {
        let dir = ScratchDirectory()
        let path = dir.path("events.jsonl")
        var options = LocalFileConnector.Options(path: path)
        options.bufferSize = 5
        let file = try LocalFileConnector(options: options)
        file.pauseWriter()
        for index in 0..<20 { try file.emit(event(index)) }
        #expect(file.droppedCount == 15)
        file.resumeWriter()
        await file.drain()
        #expect(try readLines(path).count == 5)
        await file.shutdown()
        try file.emit(event(99))
        #expect(file.droppedCount == 16)
        let numbers = try readLines(path).map { try (jsonObject($0)["metadata"] as? [String: Int])?["n"] }
        #expect(numbers == [0, 1, 2, 3, 4])
    }

    @Test func shutdownFlushesEverythingBuffered() async throws {
        let dir = ScratchDirectory()
        let path = dir.path("events.jsonl")
        let file = try LocalFileConnector(options: .init(path: path))
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<4 {
                group.addTask { for index in 0..<500 { try? file.emit(event(task * 1000 + index)) } }
            }
        }
        await file.shutdown()
        await file.shutdown()
        #expect(try readLines(path).count == 2000)
        #expect(file.droppedCount == 0)
    }

    @Test func emitterShutdownFlushesFileConnectors() async throws {
        let dir = ScratchDirectory()
        let path = dir.path("events.jsonl")
        let emitter = EventEmitter()
        emitter.subscribe(try LocalFileConnector(options: .init(path: path)))
        emitter.emit(event(1))
        await emitter.shutdown()
        #expect(try readLines(path).count == 1)
    }

    @Test func settingsFromConfiguration() throws {
        let dir = ScratchDirectory()
        func config(_ settings: [String: JSONValue]) -> ObservabilityConnectorConfiguration {
            var all = settings
            all["path"] = .string(dir.path("events.jsonl"))
            return ObservabilityConnectorConfiguration(connector: LocalFileConnector.id, settings: all)
        }
        _ = try LocalFileConnector(configuration: config(["max_size": "10MB", "max_files": 3, "channels": ["events"]]))
        #expect(config([:]).settings["path"] != nil)
        #expect(try config(["max_size": "10MB"]).byteSize("max_size", default: 0) == 10 << 20)
        #expect(try config(["max_size": "512 KB"]).byteSize("max_size", default: 0) == 512 << 10)
        #expect(try config(["max_size": 4096]).byteSize("max_size", default: 0) == 4096)
        for bad: [String: JSONValue] in [["max_size": "ten"], ["max_files": -1], ["buffer_size": 0], ["channels": ["nope"]]] {
            #expect(throws: ObservabilityError.self) { try LocalFileConnector(configuration: config(bad)) }
        }
        let error = #expect(throws: ObservabilityError.self) {
            try LocalFileConnector(configuration: config(["max_size": "ten"]))
        }
        #expect(error?.code == .invalidSetting)
        #expect(error?.setting == "max_size")
    }

    @Test func unwritablePathFailsAtConstruction() throws {
        let dir = ScratchDirectory()
        let blocker = dir.path("blocker")
        try FileManager.default.createDirectory(atPath: dir.url.path, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: blocker, contents: Data()))
        let error = #expect(throws: ObservabilityError.self) {
            try LocalFileConnector(options: .init(path: blocker + "/events.jsonl"))
        }
        #expect(error?.code == .outputUnavailable)
    }
}

@Suite struct ObservabilityRegistryTests {
    @Test func unknownConnectorNamesItAndTheKnownOnes() {
        let registry = ObservabilityRegistry.builtIn
        let error = #expect(throws: ObservabilityError.self) {
            try registry.makeConnector(.init(connector: "modelmesh.carrier-pigeon.v1"))
        }
        #expect(error?.code == .unknownConnector)
        #expect(error?.connectorID == "modelmesh.carrier-pigeon.v1")
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("modelmesh.carrier-pigeon.v1"))
        for id in ["modelmesh.console.v1", "modelmesh.local-file.v1", "modelmesh.null.v1", "modelmesh.callback.v1"] {
            #expect(text.contains(id))
        }
    }

    @Test func buildsConfiguredConnectorsWithTheirFilters() throws {
        var configuration = ObservabilityConfiguration()
        configuration.connectors = [
            .init(connector: "modelmesh.console.v1"),
            .init(connector: "observability.modelmesh.null.v1", events: [.modelDeactivated]),
        ]
        let built = try ObservabilityRegistry.builtIn.makeConnectors(for: configuration)
        #expect(built.count == 2)
        #expect(built[0].0 is ConsoleConnector && built[0].1 == nil)
        #expect(built[1].0 is NullConnector && built[1].1 == [.modelDeactivated])
    }

    @Test func callbackNeedsCodeAndRegistrationIsOpen() throws {
        var registry = ObservabilityRegistry.builtIn
        let error = #expect(throws: ObservabilityError.self) {
            try registry.makeConnector(.init(connector: CallbackConnector.id))
        }
        #expect(error?.code == .notConfigurable)

        let recorder = RecordingConnector()
        registry.register(id: "acme.audit.v1") { _ in recorder }
        registry.register(id: CallbackConnector.id) { _ in CallbackConnector { _ in } }
        #expect(registry.contains("acme.audit.v1"))
        #expect(try registry.makeConnector(.init(connector: "acme.audit.v1")) === recorder)
        #expect(try registry.makeConnector(.init(connector: CallbackConnector.id)) is CallbackConnector)
        #expect(!ObservabilityRegistry().contains(ConsoleConnector.id))
    }
}

@Suite struct RecordingConnectorTests {
    @Test func recordsFiltersAndClears() throws {
        let recorder = RecordingConnector()
        let null = NullConnector()
        for type in [EventType.modelRotated, .modelActivated, .modelRotated] {
            try recorder.emit(RoutingEvent(eventType: type))
            try null.emit(RoutingEvent(eventType: type))
        }
        #expect(recorder.events.count == 3)
        #expect(recorder.events(of: .modelRotated).count == 2)
        recorder.clear()
        #expect(recorder.events.isEmpty)
    }
}

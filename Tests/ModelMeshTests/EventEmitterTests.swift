import Foundation
import Synchronization
import Testing

@testable import ModelMesh

/// A connector that fails on every channel.
private final class FailingConnector: ObservabilityConnector {
    struct Failure: Error {}
    let calls = Atomic<Int>(0)
    func emit(_ event: RoutingEvent) throws {
        calls.add(1, ordering: .relaxed)
        throw Failure()
    }
    func log(_ entry: RequestLogEntry) throws { throw Failure() }
    func flush(_ stats: [String: AggregateStats]) throws { throw Failure() }
    func trace(_ entry: TraceEntry) throws { throw Failure() }
}

/// Records `(connector name, event type)` pairs into one shared, ordered log.
private final class DeliveryLog: Sendable {
    let entries = Mutex<[String]>([])
    func connector(_ name: String) -> CallbackConnector {
        CallbackConnector { [self] event in entries.withLock { $0.append("\(name):\(event.eventType.rawValue)") } }
    }
    var all: [String] { entries.withLock { $0 } }
}

@Suite struct EventEmitterTests {
    @Test func eventTypeWireNames() {
        #expect(EventType.allCases.map(\.rawValue) == [
            "model_activated", "model_deactivated", "model_rotated", "provider_health_changed",
            "provider_deactivated", "provider_recovered", "pool_membership_changed", "discovery_models_updated",
        ])
    }

    @Test func deliversSynchronouslyInSubscriptionOrder() {
        let emitter = EventEmitter()
        let log = DeliveryLog()
        for name in ["a", "b", "c"] { emitter.subscribe(log.connector(name)) }
        emitter.emit(RoutingEvent(eventType: .modelRotated))
        // No waiting: delivery has happened when emit returns.
        #expect(log.all == ["a:model_rotated", "b:model_rotated", "c:model_rotated"])
        emitter.emit(RoutingEvent(eventType: .modelActivated))
        #expect(log.all.suffix(3) == ["a:model_activated", "b:model_activated", "c:model_activated"])
    }

    @Test func throwingConnectorDoesNotStopTheOthers() {
        let emitter = EventEmitter()
        let before = RecordingConnector()
        let failing = FailingConnector()
        let after = RecordingConnector()
        emitter.subscribe(before)
        emitter.subscribe(failing)
        emitter.subscribe(after)
        emitter.emit(RoutingEvent(eventType: .modelDeactivated, modelID: "a"))
        emitter.log(RequestLogEntry(requestID: "r1", timestamp: Date(), status: 200, latencyMs: 1))
        emitter.flush(["model:a": AggregateStats()])
        emitter.trace(TraceEntry(severity: .info, component: "router", message: "hi"))
        #expect(failing.calls.load(ordering: .relaxed) == 1)
        for recorder in [before, after] {
            #expect(recorder.events.map(\.modelID) == ["a"])
            #expect(recorder.logs.count == 1)
            #expect(recorder.statistics.count == 1)
            #expect(recorder.traces.count == 1)
        }
    }

    @Test func duplicateSubscriptionIsIgnored() {
        let emitter = EventEmitter()
        let recorder = RecordingConnector()
        emitter.subscribe(recorder)
        emitter.subscribe(recorder)
        emitter.subscribe(recorder, events: [.modelRotated])
        emitter.emit(RoutingEvent(eventType: .modelActivated))
        #expect(emitter.connectors.count == 1)
        #expect(recorder.events.count == 1)
    }

    @Test func unsubscribeRemovesAndIgnoresUnknown() {
        let emitter = EventEmitter()
        let kept = RecordingConnector()
        let removed = RecordingConnector()
        emitter.subscribe(kept)
        emitter.subscribe(removed)
        emitter.unsubscribe(removed)
        emitter.unsubscribe(RecordingConnector())
        emitter.unsubscribe(removed)
        emitter.emit(RoutingEvent(eventType: .providerRecovered))
        #expect(kept.events.count == 1)
        #expect(removed.events.isEmpty)
        #expect(emitter.connectors.count == 1)
    }

    @Test func perConnectorEventFilter() {
        let emitter = EventEmitter()
        let all = RecordingConnector()
        let alerts = RecordingConnector()
        emitter.subscribe(all)
        emitter.subscribe(alerts, events: [.modelDeactivated, .providerDeactivated])
        for type in EventType.allCases { emitter.emit(RoutingEvent(eventType: type)) }
        #expect(all.events.map(\.eventType) == EventType.allCases)
        #expect(alerts.events.map(\.eventType) == [.modelDeactivated, .providerDeactivated])
    }

    @Test func categoryFilterNames() {
        #expect(EventType.matching(filterName: "rotation") == [.modelRotated])
        #expect(EventType.matching(filterName: "deactivation") == [.modelDeactivated, .providerDeactivated])
        #expect(EventType.matching(filterName: "recovery") == [.modelActivated, .providerRecovered])
        #expect(EventType.matching(filterName: "health") == [.providerHealthChanged])
        #expect(EventType.matching(filterName: "model_rotated") == [.modelRotated])
        #expect(EventType.matching(filterName: "nonsense") == nil)
    }

    @Test func concurrentEmitDeliversEveryEvent() async {
        let emitter = EventEmitter()
        let recorder = RecordingConnector()
        let counter = Atomic<Int>(0)
        emitter.subscribe(recorder)
        emitter.subscribe(CallbackConnector { _ in counter.add(1, ordering: .relaxed) })
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<50 {
                group.addTask {
                    for index in 0..<200 {
                        emitter.emit(RoutingEvent(eventType: .modelRotated, metadata: ["n": .int(task * 1000 + index)]))
                    }
                }
            }
        }
        #expect(recorder.events.count == 10_000)
        #expect(Set(recorder.events.compactMap { $0.metadata["n"]?.intValue }).count == 10_000)
        #expect(counter.load(ordering: .relaxed) == 10_000)
    }

    @Test func subscribeWhileEmittingIsSafe() async {
        let emitter = EventEmitter()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for _ in 0..<500 { emitter.emit(RoutingEvent(eventType: .modelRotated)) } }
            group.addTask {
                for _ in 0..<100 {
                    let connector = RecordingConnector()
                    emitter.subscribe(connector)
                    emitter.unsubscribe(connector)
                }
            }
        }
        #expect(emitter.connectors.isEmpty)
    }

    @Test func eventsAsyncSequenceReceivesEvents() async {
        let emitter = EventEmitter()
        let stream = emitter.events
        let sent = [EventType.modelDeactivated, .modelRotated, .modelActivated].map {
            RoutingEvent(eventType: $0, poolID: "chat")
        }
        for event in sent { emitter.emit(event) }
        var received: [RoutingEvent] = []
        for await event in stream {
            received.append(event)
            if received.count == sent.count { break }
        }
        #expect(received == sent)
    }

    @Test func shutdownFinishesEventStreams() async {
        let emitter = EventEmitter()
        let stream = emitter.events
        emitter.emit(RoutingEvent(eventType: .modelRotated))
        await emitter.shutdown()
        var count = 0
        for await _ in stream { count += 1 }
        #expect(count == 1)
    }

    // MARK: Event JSON

    @Test func eventJSONHasExactlyTheWireKeys() throws {
        let event = RoutingEvent(
            eventType: .modelRotated, timestamp: Date(timeIntervalSince1970: 1_768_478_400.5), modelID: "b",
            poolID: "chat", metadata: ["from_model": "a", "to_model": "b", "reason": "server_error"])
        let line = event.jsonLine()
        #expect(!line.contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["event_type", "timestamp", "model_id", "provider_id", "pool_id", "metadata"])
        #expect(object["event_type"] as? String == "model_rotated")
        #expect(object["provider_id"] is NSNull)
        let stamp = try #require(object["timestamp"] as? String)
        #expect(stamp.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/) != nil)
        #expect(stamp == "2026-01-15T12:00:00.500Z")
        #expect((object["metadata"] as? [String: String]) == ["from_model": "a", "to_model": "b", "reason": "server_error"])
    }

    @Test func eventJSONRoundTrips() throws {
        let event = RoutingEvent(
            eventType: .modelDeactivated, timestamp: Date(timeIntervalSince1970: 1_768_478_400.25), modelID: "gpt",
            providerID: "openai", poolID: "chat",
            metadata: ["reason": "error_threshold", "cooldown_until": "2026-01-15T12:01:00.000Z", "count": 3,
                       "ratio": 0.5, "models": ["a", "b"], "nested": ["ok": true], "none": nil])
        let decoded = try JSONDecoder().decode(RoutingEvent.self, from: Data(event.jsonLine().utf8))
        #expect(decoded == event)
        #expect(decoded.jsonLine() == event.jsonLine())
        let minimal = try JSONDecoder().decode(
            RoutingEvent.self, from: Data(#"{"event_type":"provider_recovered","timestamp":"2026-01-15T12:00:00Z"}"#.utf8))
        #expect(minimal.eventType == .providerRecovered && minimal.metadata.isEmpty && minimal.providerID == nil)
    }
}

@Suite struct TimestampTests {
    @Test func formatsRoundedMilliseconds() throws {
        let base = try #require(Timestamp.parse("2026-01-15T12:00:00.123Z"))
        #expect(Timestamp.format(base.addingTimeInterval(3661.004)) == "2026-01-15T13:01:01.127Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1.9996)) == "1970-01-01T00:00:02.000Z")
    }
}

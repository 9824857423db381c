import Foundation
import Synchronization
import Testing

@testable import ModelMesh

/// A hand-driven clock: `sleep` moves time forward, and throws `CancellationError` once
/// `sleepLimit` sleeps have happened, so a flush loop ends without real waiting.
private final class SteppingClock: MeshClock {
    private let state: Mutex<(now: Date, sleeps: Int)>
    private let sleepLimit: Int

    init(sleepLimit: Int = .max) {
        state = Mutex((Date(timeIntervalSince1970: 1_768_478_400), 0))
        self.sleepLimit = sleepLimit
    }

    func now() -> Date { state.withLock { $0.now } }

    func sleep(for duration: Duration) async throws {
        try state.withLock { state in
            guard state.sleeps < sleepLimit else { throw CancellationError() }
            state.sleeps += 1
            state.now = state.now.adding(duration)
        }
    }

    func advance(seconds: Double) { state.withLock { $0.now = $0.now.addingTimeInterval(seconds) } }
}

@Suite struct StatisticsCollectorTests {
    @Test func percentilesOnKnownSamples() throws {
        let collector = StatisticsCollector()
        for latency in (1...100).shuffled() {
            collector.recordRequest(model: "a", provider: nil, pool: nil, succeeded: true, latencyMs: Double(latency))
        }
        let stats = try #require(collector.snapshot()["model:a"])
        #expect(stats.latencyP50 == 50)
        #expect(stats.latencyP95 == 95)
        #expect(stats.latencyP99 == 99)
        #expect(stats.latencyAvg == 50.5)
    }

    @Test func reservoirKeepsTheMostRecentSamples() {
        var reservoir = LatencyReservoir(capacity: 10)
        #expect(reservoir.percentile(0.5) == 0 && reservoir.average == 0)
        for sample in 1...100 { reservoir.add(Double(sample)) }
        #expect(reservoir.recentSamples == (91...100).map(Double.init))
        #expect(reservoir.count == 100)
        #expect(reservoir.average == 50.5)
        #expect(reservoir.percentiles([0, 0.5, 1]) == [91, 95, 100])
    }

    @Test func scopesAreSeparate() throws {
        let collector = StatisticsCollector()
        collector.recordRequest(
            model: "a", provider: "p", pool: "chat", succeeded: true, latencyMs: 10, tokensIn: 5, tokensOut: 7, cost: 0.01)
        collector.recordRequest(model: "b", provider: "p", pool: "chat", succeeded: false, latencyMs: 30)
        collector.recordRequest(model: "c", provider: "q", pool: "code", succeeded: true, latencyMs: 20)
        let snapshot = collector.snapshot()
        #expect(Set(snapshot.keys) == ["model:a", "model:b", "model:c", "provider:p", "provider:q", "pool:chat", "pool:code"])
        let a = try #require(snapshot["model:a"])
        #expect(a.requestsTotal == 1 && a.requestsSuccess == 1 && a.tokensIn == 5 && a.tokensOut == 7 && a.costTotal == 0.01)
        let b = try #require(snapshot["model:b"])
        #expect(b.requestsFailed == 1 && b.tokensIn == 0)
        let chat = try #require(snapshot["pool:chat"])
        #expect(chat.requestsTotal == 2 && chat.requestsFailed == 1 && chat.latencyAvg == 20)
        #expect(snapshot["provider:q"]?.requestsTotal == 1)
        #expect(collector.statistics(for: .pool("code"))?.latencyP50 == 20)
    }

    @Test func requestLogEntriesCountAttemptsPerModel() throws {
        let collector = StatisticsCollector()
        collector.record(
            RequestLogEntry(
                requestID: "r1", timestamp: Date(), poolID: "chat", modelID: "b", providerID: "q", status: 200,
                latencyMs: 130, tokensIn: 10, tokensOut: 20, cost: 0.5,
                attempts: [
                    AttemptRecord(modelID: "a", providerID: "p", errorClass: "server_error", status: 500, latencyMs: 30),
                    AttemptRecord(modelID: "b", providerID: "q", errorClass: nil, status: 200, latencyMs: 100),
                ]))
        collector.record(
            RequestLogEntry(requestID: "r2", timestamp: Date(), poolID: "chat", modelID: "a", status: 429, latencyMs: 5,
                            error: "rate limited"))
        let snapshot = collector.snapshot()
        let a = try #require(snapshot["model:a"])
        #expect(a.requestsTotal == 2 && a.requestsFailed == 2 && a.tokensIn == 0)
        let b = try #require(snapshot["model:b"])
        #expect(b.requestsSuccess == 1 && b.tokensIn == 10 && b.tokensOut == 20 && b.costTotal == 0.5 && b.latencyAvg == 100)
        #expect(snapshot["provider:p"]?.requestsFailed == 1)
        let pool = try #require(snapshot["pool:chat"])
        #expect(pool.requestsTotal == 2 && pool.requestsSuccess == 1 && pool.requestsFailed == 1 && pool.tokensOut == 20)
    }

    @Test func rotationsCountPerPoolAndModel() {
        let collector = StatisticsCollector()
        collector.recordRotation(pool: "chat", fromModel: "a")
        collector.recordRotation(pool: "chat")
        #expect(collector.snapshot()["pool:chat"]?.rotationEvents == 2)
        #expect(collector.snapshot()["model:a"]?.rotationEvents == 1)
    }

    @Test func downtimeFollowsTheClock() {
        let clock = SteppingClock()
        let collector = StatisticsCollector(clock: clock)
        collector.modelLeftActive("a")
        clock.advance(seconds: 30)
        // Still out: the running period counts without ending it.
        #expect(collector.snapshot()["model:a"]?.downtimeTotal == 30)
        collector.modelLeftActive("a")  // already out: ignored
        clock.advance(seconds: 15)
        collector.modelReturned("a")
        clock.advance(seconds: 100)
        #expect(collector.snapshot()["model:a"]?.downtimeTotal == 45)
        collector.modelReturned("a")  // not out: ignored
        collector.leftActive(.provider("p"), at: clock.now().addingTimeInterval(-5))
        collector.returnedToActive(.provider("p"))
        collector.recordDowntime(model: "a", seconds: 5)
        #expect(collector.snapshot()["model:a"]?.downtimeTotal == 50)
        #expect(collector.snapshot()["provider:p"]?.downtimeTotal == 5)
    }

    @Test func concurrentRecordingIsExact() async {
        let collector = StatisticsCollector()
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for index in 0..<1000 {
                        collector.recordRequest(
                            model: "m\(task % 4)", provider: "p", pool: "chat", succeeded: index % 10 != 0,
                            latencyMs: Double(index), tokensIn: 1)
                    }
                }
            }
        }
        let snapshot = collector.snapshot()
        #expect(snapshot["pool:chat"]?.requestsTotal == 8000)
        #expect(snapshot["pool:chat"]?.requestsFailed == 800)
        #expect(snapshot["provider:p"]?.tokensIn == 8000)
        #expect((0..<4).map { snapshot["model:m\($0)"]?.requestsTotal } == [2000, 2000, 2000, 2000])
    }

    @Test func flushSendsSnapshotsToConnectors() {
        let emitter = EventEmitter()
        let recorder = RecordingConnector()
        emitter.subscribe(recorder)
        let collector = StatisticsCollector()
        collector.flush(to: emitter)
        #expect(recorder.statistics.isEmpty)
        collector.recordRotation(pool: "chat")
        collector.flush(to: emitter)
        #expect(recorder.statistics.map { Set($0.keys) } == [["pool:chat"]])
    }

    @Test func periodicFlushRunsUntilCancelled() async {
        let emitter = EventEmitter()
        let recorder = RecordingConnector()
        emitter.subscribe(recorder)
        let collector = StatisticsCollector()
        collector.recordRotation(pool: "chat")
        // Three sleeps succeed, the fourth reports cancellation: three periodic flushes and a final one.
        let clock = SteppingClock(sleepLimit: 3)
        await collector.run(every: .seconds(60), emitter: emitter, clock: clock)
        #expect(recorder.statistics.count == 4)
    }

    @Test func periodicFlushReturnsOnTaskCancellation() async {
        let emitter = EventEmitter()
        let recorder = RecordingConnector()
        emitter.subscribe(recorder)
        let collector = StatisticsCollector()
        collector.recordRotation(pool: "chat")
        let task = Task { await collector.run(every: .seconds(3600), emitter: emitter) }
        task.cancel()
        await task.value
        #expect(recorder.statistics.count == 1)
    }
}

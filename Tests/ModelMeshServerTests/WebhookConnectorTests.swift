import Foundation
import Hummingbird
import Logging
import ModelMesh
import ModelMeshProviders
import ModelMeshServer
import ServiceLifecycle
import Synchronization
import Testing

/// A tiny HTTP receiver that records webhook POSTs and answers with scripted statuses.
final class WebhookReceiver: Sendable {
    struct Delivery: Sendable {
        var body: String
        var authorization: String?
        var status: Int
    }

    private let state: Mutex<(statuses: [Int], deliveries: [Delivery])>
    let arrivals: AsyncStream<Delivery>
    private let continuation: AsyncStream<Delivery>.Continuation

    init(statuses: [Int]) {
        state = Mutex((statuses, []))
        (arrivals, continuation) = AsyncStream<Delivery>.makeStream()
    }

    var deliveries: [Delivery] { state.withLock { $0.deliveries } }

    func record(body: String, authorization: String?) -> Int {
        let delivery = state.withLock { s in
            let status = s.statuses.isEmpty ? 200 : s.statuses.removeFirst()
            let delivery = Delivery(body: body, authorization: authorization, status: status)
            s.deliveries.append(delivery)
            return delivery
        }
        continuation.yield(delivery)
        return delivery.status
    }

    /// Runs the receiver while `body` runs, passing it the receiver's URL.
    func run(_ body: (String) async throws -> Void) async throws {
        let router = Router()
        router.post("/hook") { request, context -> Response in
            let buffer = try await request.body.collect(upTo: 1 << 20)
            let status = self.record(body: String(buffer: buffer), authorization: request.headers[.authorization])
            return Response(status: .init(code: status))
        }
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            }, logger: quietLogger)
        let group = ServiceGroup(services: [app], logger: quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            do {
                try await body("http://127.0.0.1:\(port)/hook")
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}

@Suite("Webhook connector", .timeLimit(.minutes(1)))
struct WebhookConnectorTests {
    static func event(_ model: String) -> RoutingEvent {
        RoutingEvent(
            eventType: .modelDeactivated, timestamp: Date(timeIntervalSince1970: 1_768_478_400), modelID: model,
            providerID: "p", poolID: "chat", metadata: ["reason": "manual"])
    }

    @Test("Posts JSON batches, retries after a 500, and flushes the rest on shutdown")
    func batchesAndRetries() async throws {
        let receiver = WebhookReceiver(statuses: [500])
        try await receiver.run { url in
            var settings = WebhookConnector.Settings(url: url, headers: ["Authorization": Secret("Bearer hook-secret")])
            settings.batchSize = 2
            settings.initialBackoff = .milliseconds(10)
            settings.flushInterval = .seconds(60)
            let webhook = WebhookConnector(settings: settings, logger: quietLogger)
            try webhook.emit(Self.event("m1"))
            try webhook.emit(Self.event("m2"))
            try webhook.emit(Self.event("m3"))

            var arrivals = receiver.arrivals.makeAsyncIterator()
            let failed = try #require(await arrivals.next())
            #expect(failed.status == 500)
            let retried = try #require(await arrivals.next())
            #expect(retried.status == 200)
            #expect(retried.body == failed.body)
            #expect(retried.authorization == "Bearer hook-secret")

            let batch = try JSONDecoder().decode(JSONValue.self, from: Data(retried.body.utf8))
            let events = try #require(batch["events"]?.arrayValue)
            #expect(events.count == 2)
            #expect(events[0]["event_type"]?.stringValue == "model_deactivated")
            #expect(events[0]["model_id"]?.stringValue == "m1")
            #expect(events[0]["timestamp"]?.stringValue == "2026-01-15T12:00:00.000Z")
            #expect(events[1]["model_id"]?.stringValue == "m2")

            // The third event is a partial batch: shutdown sends it.
            await webhook.shutdown()
            let last = try #require(await arrivals.next())
            let rest = try JSONDecoder().decode(JSONValue.self, from: Data(last.body.utf8))
            #expect(rest["events"]?.arrayValue?.map { $0["model_id"]?.stringValue } == ["m3"])
            #expect(webhook.statistics == .init(delivered: 3, dropped: 0, failed: 0, posts: 3))
        }
    }

    @Test("Partial batches go out after the flush interval")
    func flushInterval() async throws {
        let receiver = WebhookReceiver(statuses: [])
        try await receiver.run { url in
            var settings = WebhookConnector.Settings(url: url)
            settings.batchSize = 100
            settings.flushInterval = .milliseconds(20)
            let webhook = WebhookConnector(settings: settings, logger: quietLogger)
            try webhook.emit(Self.event("only"))
            var arrivals = receiver.arrivals.makeAsyncIterator()
            let delivery = try #require(await arrivals.next())
            #expect(delivery.body.contains(#""model_id":"only""#))
            await webhook.shutdown()
        }
    }

    @Test("A full queue drops and counts events without blocking")
    func boundedQueue() async throws {
        var settings = WebhookConnector.Settings(url: "http://127.0.0.1:9/unreachable")
        settings.maxQueue = 2
        settings.batchSize = 100
        settings.flushInterval = .seconds(60)
        settings.retryCount = 0
        let webhook = WebhookConnector(settings: settings, logger: quietLogger)
        for i in 0..<5 { try webhook.emit(Self.event("m\(i)")) }
        #expect(webhook.statistics.dropped == 3)
        await webhook.shutdown()
        #expect(webhook.statistics.failed == 2)
        #expect(webhook.statistics.delivered == 0)
    }

    @Test("Settings are read from configuration with clear errors")
    func settings() throws {
        let parsed = try WebhookConnector.Settings(settings: [
            "url": "https://hooks.example/x", "headers": ["X-Token": "s3cret"], "batch_size": 5, "retry_count": 1,
            "timeout": "2s", "flush_interval": "500ms", "max_queue": 50,
        ])
        #expect(parsed.batchSize == 5)
        #expect(parsed.retryCount == 1)
        #expect(parsed.timeout == .seconds(2))
        #expect(parsed.flushInterval == .milliseconds(500))
        #expect(parsed.maxQueue == 50)
        #expect(parsed.headers["X-Token"]?.value == "s3cret")
        #expect("\(parsed.headers)".contains("s3cret") == false)

        #expect(throws: ModelMeshError.self) { try WebhookConnector.Settings(settings: [:]) }
        #expect(throws: ModelMeshError.self) { try WebhookConnector.Settings(settings: ["url": "ftp://x"]) }
        #expect(throws: ModelMeshError.self) {
            try WebhookConnector.Settings(settings: ["url": "http://x", "batch_size": 0])
        }
        #expect(throws: ModelMeshError.self) {
            try WebhookConnector.Settings(settings: ["url": "http://x", "timeout": "soon"])
        }
    }
}

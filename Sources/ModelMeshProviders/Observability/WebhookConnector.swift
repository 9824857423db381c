import AsyncHTTPClient
import Foundation
import Logging
import ModelMesh
import NIOCore
import NIOHTTP1
import Synchronization

/// The `modelmesh.webhook.v1` observability connector: POSTs routing events in JSON
/// batches, `{"events": [<event>, ...]}`, each event in the routing-event JSON shape.
///
/// ``emit(_:)`` only appends to a bounded in-memory queue, so routing never waits on the
/// network; when the queue is full the event is dropped and counted. A background worker
/// sends a batch as soon as `batch_size` events are queued, and whatever is queued every
/// `flush_interval`. A failed POST (connection error, 408, 429 or 5xx) is retried
/// `retry_count` times with exponential backoff; ``shutdown()`` sends what is left.
///
/// ```swift
/// let webhook = try WebhookConnector.make(settings: ["url": "https://alerts.example/hook", "batch_size": 20])
/// mesh.events.subscribe(webhook)
/// ```
public final class WebhookConnector: ObservabilityConnector {
    /// The connector ID.
    public static let id = "modelmesh.webhook.v1"

    /// Where and how to send.
    public struct Settings: Sendable {
        /// The endpoint receiving the batches (http or https).
        public var url: String
        /// Extra request headers; values may hold resolved secrets and are never logged.
        public var headers: [String: Secret]
        /// Events per POST (default 10).
        public var batchSize: Int = 10
        /// Retries of a failed POST after the first try (default 3).
        public var retryCount: Int = 3
        /// Bounds one POST (default 10s).
        public var timeout: Duration = .seconds(10)
        /// Partial batches are sent at least this often (default 1s).
        public var flushInterval: Duration = .seconds(1)
        /// Queued events beyond this are dropped (default 10,000).
        public var maxQueue: Int = 10_000
        /// The first retry waits this long; each further retry twice as long.
        public var initialBackoff: Duration = .milliseconds(250)
        /// Backoff never exceeds this.
        public var maxBackoff: Duration = .seconds(10)

        public init(url: String, headers: [String: Secret] = [:]) {
            self.url = url
            self.headers = headers
        }

        /// Reads the connector's configuration keys: `url`, `headers`, `batch_size`,
        /// `retry_count`, `timeout`, `flush_interval`, `max_queue`. Durations are seconds
        /// or strings such as `500ms`, `2s`, `1m`.
        ///
        /// - Throws: ``ModelMeshError`` naming the offending key.
        public init(settings: [String: JSONValue]) throws {
            func problem(_ key: String, _ text: String) -> ModelMeshError {
                ModelMeshError(.invalidRequest, "\(WebhookConnector.id).\(key): \(text)")
            }
            guard let url = settings["url"]?.stringValue, !url.isEmpty else {
                throw problem("url", "missing; set the URL that receives the event batches")
            }
            guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
                scheme == "http" || scheme == "https", parsed.host != nil
            else {
                throw problem("url", "not an http(s) URL")
            }
            var headers: [String: Secret] = [:]
            if let raw = settings["headers"] {
                guard let object = raw.objectValue else {
                    throw problem("headers", "expected a mapping of names to values")
                }
                for (name, value) in object {
                    guard let text = value.stringValue else { throw problem("headers.\(name)", "expected a string") }
                    headers[name] = Secret(text)
                }
            }
            self.init(url: url, headers: headers)
            func positive(_ key: String, minimum: Int) throws -> Int? {
                guard let value = settings[key] else { return nil }
                guard let int = value.intValue, int >= minimum else {
                    throw problem(key, "expected a whole number of at least \(minimum)")
                }
                return int
            }
            func duration(_ key: String) throws -> Duration? {
                guard let value = settings[key] else { return nil }
                guard let parsed = Self.parseDuration(value), parsed > .zero else {
                    throw problem(key, "expected a duration such as 500ms, 2s or 1m")
                }
                return parsed
            }
            if let v = try positive("batch_size", minimum: 1) { batchSize = v }
            if let v = try positive("retry_count", minimum: 0) { retryCount = v }
            if let v = try positive("max_queue", minimum: 1) { maxQueue = v }
            if let v = try duration("timeout") { timeout = v }
            if let v = try duration("flush_interval") { flushInterval = v }
        }

        static func parseDuration(_ value: JSONValue) -> Duration? {
            if let seconds = value.doubleValue { return .seconds(seconds) }
            guard var text = value.stringValue?.trimmingCharacters(in: .whitespaces).lowercased() else { return nil }
            let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
            var factor = 1.0
            for (suffix, f) in units where text.hasSuffix(suffix) {
                text.removeLast(suffix.count)
                factor = f
                break
            }
            guard let number = Double(text), number >= 0 else { return nil }
            return .seconds(number * factor)
        }
    }

    /// Delivery counters.
    public struct Statistics: Sendable, Equatable {
        /// Events the endpoint accepted.
        public var delivered = 0
        /// Events dropped because the queue was full (or the connector shut down).
        public var dropped = 0
        /// Events given up on after every retry failed.
        public var failed = 0
        /// POSTs made, retries included.
        public var posts = 0

        public init(delivered: Int = 0, dropped: Int = 0, failed: Int = 0, posts: Int = 0) {
            self.delivered = delivered
            self.dropped = dropped
            self.failed = failed
            self.posts = posts
        }
    }

    private struct State {
        var queue: [RoutingEvent] = []
        var statistics = Statistics()
        var closed = false
    }

    /// The queue, shared by the routing path and the worker.
    private final class Storage: Sendable {
        let state = Mutex(State())
    }

    public let settings: Settings
    private let storage = Storage()
    private let wakeups: AsyncStream<Void>.Continuation
    private let worker: Task<Void, Never>
    private let client: HTTPClient
    private let logger: Logger

    /// Starts the connector's background sender.
    public init(settings: Settings, logger: Logger = Logger(label: "modelmesh.webhook")) {
        self.settings = settings
        self.logger = logger
        var configuration = HTTPClient.Configuration()
        // A refused connection should fail at once, not after the whole connect timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(5)
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        self.client = client
        let (wakeupStream, wakeups) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.wakeups = wakeups
        let sender = Sender(settings: settings, client: client, logger: logger)
        let storage = self.storage
        // The connector's own edge: one long-lived worker, ended by shutdown().
        worker = Task {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    while !Task.isCancelled {
                        do { try await Task.sleep(for: settings.flushInterval) } catch { return }
                        wakeups.yield()
                    }
                }
                for await _ in wakeupStream {
                    while true {
                        let batch = storage.state.withLock { s -> [RoutingEvent] in
                            let batch = Array(s.queue.prefix(settings.batchSize))
                            s.queue.removeFirst(batch.count)
                            return batch
                        }
                        if batch.isEmpty { break }
                        let outcome = await sender.send(batch)
                        storage.state.withLock { s in
                            s.statistics.posts += outcome.posts
                            if outcome.delivered {
                                s.statistics.delivered += batch.count
                            } else {
                                s.statistics.failed += batch.count
                            }
                        }
                    }
                }
                group.cancelAll()
            }
        }
    }

    /// Builds the connector from its configuration settings.
    public static func make(settings: [String: JSONValue]) throws -> WebhookConnector {
        WebhookConnector(settings: try Settings(settings: settings))
    }

    /// Delivery counters so far.
    public var statistics: Statistics { storage.state.withLock { $0.statistics } }

    // MARK: ObservabilityConnector

    public func emit(_ event: RoutingEvent) throws {
        let full = storage.state.withLock { s -> Bool? in
            guard !s.closed, s.queue.count < settings.maxQueue else {
                s.statistics.dropped += 1
                return nil
            }
            s.queue.append(event)
            return s.queue.count >= settings.batchSize
        }
        if full == true { wakeups.yield() }
    }

    /// Sends everything queued, stops the worker and closes the HTTP client. Idempotent.
    public func shutdown() async {
        let first = storage.state.withLock { s in
            defer { s.closed = true }
            return !s.closed
        }
        if first {
            wakeups.yield()
            wakeups.finish()
        }
        await worker.value
        if first {
            do { try await client.shutdown() } catch {
                logger.debug("Webhook HTTP client shutdown failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Posts one batch with retries.
    private struct Sender: Sendable {
        let settings: Settings
        let client: HTTPClient
        let logger: Logger

        struct Outcome {
            var delivered: Bool
            var posts: Int
        }

        func send(_ batch: [RoutingEvent]) async -> Outcome {
            var body = ByteBuffer(string: #"{"events":["#)
            for (index, event) in batch.enumerated() {
                if index > 0 { body.writeString(",") }
                body.writeString(event.jsonLine())
            }
            body.writeString("]}")
            var request = HTTPClientRequest(url: settings.url)
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.headers.add(name: "user-agent", value: "modelmesh-webhook/1")
            for (name, value) in settings.headers { request.headers.replaceOrAdd(name: name, value: value.value) }
            request.body = .bytes(body)

            var posts = 0
            var delay = settings.initialBackoff
            for attempt in 0...settings.retryCount {
                if attempt > 0 {
                    do { try await Task.sleep(for: delay) } catch { break }
                    delay = min(delay * 2, settings.maxBackoff)
                }
                posts += 1
                let retryable: Bool
                do {
                    let response = try await client.execute(
                        request, timeout: .nanoseconds(settings.timeout.nanoseconds))
                    // Drain the body so the connection can be reused.
                    _ = try? await response.body.collect(upTo: 64 * 1024)
                    if (200..<300).contains(response.status.code) { return Outcome(delivered: true, posts: posts) }
                    let code = response.status.code
                    retryable = code == 408 || code == 429 || code >= 500
                    logger.warning(
                        "Webhook rejected an event batch",
                        metadata: ["status": "\(code)", "events": "\(batch.count)", "attempt": "\(attempt + 1)"])
                } catch {
                    retryable = true
                    logger.warning(
                        "Webhook delivery failed",
                        metadata: [
                            "error": "\(type(of: error))", "events": "\(batch.count)", "attempt": "\(attempt + 1)",
                        ])
                }
                if !retryable { break }
            }
            logger.error("Webhook gave up on an event batch", metadata: ["events": "\(batch.count)"])
            return Outcome(delivered: false, posts: posts)
        }
    }
}

extension Duration {
    fileprivate var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

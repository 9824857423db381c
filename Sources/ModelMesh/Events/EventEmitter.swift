import Foundation
import Logging
import Synchronization

/// Publishes routing events to every subscribed observability connector.
///
/// Delivery is synchronous and in subscription order. A connector that throws is logged
/// and skipped; the remaining connectors still receive the event and the caller of
/// ``emit(_:)`` never sees the error. Subscribing the same connector instance twice is
/// ignored. All methods are safe to call from many tasks at once: the subscriber list is
/// copied out of a lock, so delivery never holds it.
///
/// Request logs, statistics and traces go to the subscribers whose channels include them
/// (``subscribe(_:events:channels:)``; all four by default). A ``FilteredConnector`` counts
/// as the connector it wraps.
///
/// ```swift
/// let emitter = EventEmitter()
/// emitter.subscribe(CallbackConnector { event in print(event.eventType) })
/// emitter.emit(RoutingEvent(eventType: .modelRotated, poolID: "chat"))
/// ```
public final class EventEmitter: Sendable {
    struct Subscription: Sendable {
        /// What receives deliveries (possibly a ``FilteredConnector``).
        let connector: any ObservabilityConnector
        /// `nil` means every event type.
        let events: Set<EventType>?
        let channels: Set<ObservabilityChannel>

        /// The connector as subscribers know it: a filtered connector's base.
        var underlying: any ObservabilityConnector {
            (connector as? FilteredConnector)?.base ?? connector
        }
    }

    private let subscriptions = Mutex<[Subscription]>([])
    private let streams = Mutex<[UInt64: AsyncStream<RoutingEvent>.Continuation]>([:])
    private let nextStreamID = Atomic<UInt64>(0)
    private let logger = Logger(label: "modelmesh.events")

    public init() {}

    /// Publishes `event` to every subscriber whose filter accepts its type.
    public func emit(_ event: RoutingEvent) {
        // An event a traced request caused also becomes an event of its span.
        ActiveSpan.record(event)
        let current = subscriptions.withLock { $0 }
        for subscription in current {
            guard subscription.channels.contains(.events) else { continue }
            if let filter = subscription.events, !filter.contains(event.eventType) { continue }
            do {
                try subscription.connector.emit(event)
            } catch {
                logger.error(
                    "Observability connector failed to receive an event; delivery continues",
                    metadata: [
                        "connector": "\(type(of: subscription.underlying))",
                        "event_type": "\(event.eventType.rawValue)",
                        "error": "\(error)",
                    ])
            }
        }
        let listeners = streams.withLock { Array($0.values) }
        for continuation in listeners { continuation.yield(event) }
    }

    /// Subscribes `connector` to every event type. A second subscription of the same
    /// instance is ignored.
    public func subscribe(_ connector: any ObservabilityConnector) {
        subscribe(connector, events: nil)
    }

    /// Subscribes `connector` to the given event types only (`nil`: all of them).
    /// A second subscription of the same instance is ignored.
    public func subscribe(_ connector: any ObservabilityConnector, events: Set<EventType>?) {
        subscribe(connector, events: events, channels: Set(ObservabilityChannel.allCases))
    }

    /// Subscribes `connector` to the given channels, and among events to the given types
    /// (`nil`: all of them). A second subscription of the same instance is ignored.
    public func subscribe(
        _ connector: any ObservabilityConnector, events: Set<EventType>?, channels: Set<ObservabilityChannel>
    ) {
        let subscription = Subscription(connector: connector, events: events, channels: channels)
        let identity = subscription.underlying
        subscriptions.withLock { list in
            guard !list.contains(where: { $0.underlying === identity }) else { return }
            list.append(subscription)
        }
    }

    /// Removes `connector`; an unknown connector is ignored.
    public func unsubscribe(_ connector: any ObservabilityConnector) {
        let identity = (connector as? FilteredConnector)?.base ?? connector
        subscriptions.withLock { list in list.removeAll { $0.underlying === identity } }
    }

    /// The connectors currently subscribed, in subscription order (a ``FilteredConnector``
    /// is listed as its base).
    public var connectors: [any ObservabilityConnector] {
        subscriptions.withLock { $0.map(\.underlying) }
    }

    /// A stream of every event emitted from now on. Each call makes an independent stream
    /// that keeps at most `bufferSize` undelivered events (the oldest are dropped).
    public func events(bufferSize: Int = 1024) -> AsyncStream<RoutingEvent> {
        let id = nextStreamID.wrappingAdd(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream<RoutingEvent>.makeStream(
            bufferingPolicy: .bufferingNewest(bufferSize))
        continuation.onTermination = { [weak self] _ in
            _ = self?.streams.withLock { $0.removeValue(forKey: id) }
        }
        streams.withLock { $0[id] = continuation }
        return stream
    }

    /// A stream of every event emitted from now on.
    public var events: AsyncStream<RoutingEvent> { events() }

    // MARK: The other observability channels

    /// Sends a request log entry to every subscriber of the `logs` channel.
    public func log(_ entry: RequestLogEntry) {
        deliver(.logs) { try $0.log(entry) }
    }

    /// Sends a statistics snapshot to every subscriber of the `stats` channel.
    public func flush(_ stats: [String: AggregateStats]) {
        deliver(.statistics) { try $0.flush(stats) }
    }

    /// Sends a trace entry to every subscriber of the `traces` channel.
    public func trace(_ entry: TraceEntry) {
        deliver(.traces) { try $0.trace(entry) }
    }

    /// Lets every connector write out what it buffered, then ends the event streams.
    public func shutdown() async {
        for connector in subscriptions.withLock({ $0.map(\.connector) }) { await connector.shutdown() }
        let listeners = streams.withLock { s in
            defer { s.removeAll() }
            return Array(s.values)
        }
        for continuation in listeners { continuation.finish() }
    }

    private func deliver(_ channel: ObservabilityChannel, _ body: (any ObservabilityConnector) throws -> Void) {
        let current = subscriptions.withLock { $0 }
        for subscription in current where subscription.channels.contains(channel) {
            do { try body(subscription.connector) } catch {
                logger.error(
                    "Observability connector failed on the \(channel.rawValue) channel; delivery continues",
                    metadata: ["connector": "\(type(of: subscription.underlying))", "error": "\(error)"])
            }
        }
    }
}

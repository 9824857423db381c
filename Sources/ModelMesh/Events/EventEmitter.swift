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
/// ```swift
/// let emitter = EventEmitter()
/// emitter.subscribe(CallbackConnector { event in print(event.eventType) })
/// emitter.emit(RoutingEvent(eventType: .modelRotated, poolID: "chat"))
/// ```
public final class EventEmitter: Sendable {
    struct Subscription: Sendable {
        let connector: any ObservabilityConnector
        /// `nil` means every event type.
        let events: Set<EventType>?
    }

    private let subscriptions = Mutex<[Subscription]>([])
    private let streams = Mutex<[UInt64: AsyncStream<RoutingEvent>.Continuation]>([:])
    private let nextStreamID = Atomic<UInt64>(0)
    private let logger = Logger(label: "modelmesh.events")

    public init() {}

    /// Publishes `event` to every subscriber whose filter accepts its type.
    public func emit(_ event: RoutingEvent) {
        let current = subscriptions.withLock { $0 }
        for subscription in current {
            if let filter = subscription.events, !filter.contains(event.eventType) { continue }
            do {
                try subscription.connector.emit(event)
            } catch {
                logger.error(
                    "Observability connector failed to receive an event; delivery continues",
                    metadata: [
                        "connector": "\(type(of: subscription.connector))",
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
        subscriptions.withLock { list in
            guard !list.contains(where: { $0.connector === connector }) else { return }
            list.append(Subscription(connector: connector, events: events))
        }
    }

    /// Removes `connector`; an unknown connector is ignored.
    public func unsubscribe(_ connector: any ObservabilityConnector) {
        subscriptions.withLock { list in list.removeAll { $0.connector === connector } }
    }

    /// The connectors currently subscribed, in subscription order.
    public var connectors: [any ObservabilityConnector] {
        subscriptions.withLock { $0.map(\.connector) }
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

    /// Sends a request log entry to every subscriber.
    public func log(_ entry: RequestLogEntry) {
        deliver("request log") { try $0.log(entry) }
    }

    /// Sends a statistics snapshot to every subscriber.
    public func flush(_ stats: [String: AggregateStats]) {
        deliver("statistics") { try $0.flush(stats) }
    }

    /// Sends a trace entry to every subscriber.
    public func trace(_ entry: TraceEntry) {
        deliver("trace") { try $0.trace(entry) }
    }

    /// Lets every connector write out what it buffered, then ends the event streams.
    public func shutdown() async {
        for connector in connectors { await connector.shutdown() }
        let listeners = streams.withLock { s in
            defer { s.removeAll() }
            return Array(s.values)
        }
        for continuation in listeners { continuation.finish() }
    }

    private func deliver(_ channel: String, _ body: (any ObservabilityConnector) throws -> Void) {
        for connector in connectors {
            do { try body(connector) } catch {
                logger.error(
                    "Observability connector failed on the \(channel) channel; delivery continues",
                    metadata: ["connector": "\(type(of: connector))", "error": "\(error)"])
            }
        }
    }
}

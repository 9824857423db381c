import Synchronization

/// An observability connector that keeps every record in memory, for tests and diagnostics.
///
/// Thread-safe; nothing is ever dropped, so clear it in long-running processes.
///
/// ```swift
/// let recorder = RecordingConnector()
/// emitter.subscribe(recorder)
/// // ... run a request that fails over ...
/// #expect(recorder.events(of: .modelRotated).count == 1)
/// ```
public final class RecordingConnector: ObservabilityConnector {
    private struct Records {
        var events: [RoutingEvent] = []
        var logs: [RequestLogEntry] = []
        var statistics: [[String: AggregateStats]] = []
        var traces: [TraceEntry] = []
    }

    private let records = Mutex(Records())

    public init() {}

    public func emit(_ event: RoutingEvent) throws { records.withLock { $0.events.append(event) } }
    public func log(_ entry: RequestLogEntry) throws { records.withLock { $0.logs.append(entry) } }
    public func flush(_ stats: [String: AggregateStats]) throws { records.withLock { $0.statistics.append(stats) } }
    public func trace(_ entry: TraceEntry) throws { records.withLock { $0.traces.append(entry) } }

    /// Every routing event received, in order.
    public var events: [RoutingEvent] { records.withLock { $0.events } }

    /// The routing events of type `type`, in order.
    public func events(of type: EventType) -> [RoutingEvent] {
        records.withLock { $0.events.filter { $0.eventType == type } }
    }

    /// Every request log entry received, in order.
    public var logs: [RequestLogEntry] { records.withLock { $0.logs } }

    /// Every statistics snapshot received, in order.
    public var statistics: [[String: AggregateStats]] { records.withLock { $0.statistics } }

    /// Every trace entry received, in order.
    public var traces: [TraceEntry] { records.withLock { $0.traces } }

    /// Forgets everything recorded so far.
    public func clear() { records.withLock { $0 = Records() } }
}

/// An observability connector that hands every record to Swift closures (`modelmesh.callback.v1`).
///
/// Closures run synchronously on the caller's task, so they must return quickly; hand long
/// work to your own queue or task.
///
/// ```swift
/// let emitter = EventEmitter()
/// emitter.subscribe(CallbackConnector { event in
///     if event.eventType == .modelDeactivated { alerts.send(event) }
/// })
/// ```
public final class CallbackConnector: ObservabilityConnector {
    /// The connector ID under which it is registered.
    public static let id = "modelmesh.callback.v1"

    private let onEvent: @Sendable (RoutingEvent) -> Void
    private let onLog: (@Sendable (RequestLogEntry) -> Void)?
    private let onStatistics: (@Sendable ([String: AggregateStats]) -> Void)?
    private let onTrace: (@Sendable (TraceEntry) -> Void)?

    /// Creates a connector calling `onEvent` for each routing event and the optional closures
    /// for the other channels (a channel without a closure is ignored).
    public init(
        onEvent: @escaping @Sendable (RoutingEvent) -> Void = { _ in },
        onLog: (@Sendable (RequestLogEntry) -> Void)? = nil,
        onStatistics: (@Sendable ([String: AggregateStats]) -> Void)? = nil,
        onTrace: (@Sendable (TraceEntry) -> Void)? = nil
    ) {
        self.onEvent = onEvent
        self.onLog = onLog
        self.onStatistics = onStatistics
        self.onTrace = onTrace
    }

    public func emit(_ event: RoutingEvent) throws { onEvent(event) }
    public func log(_ entry: RequestLogEntry) throws { onLog?(entry) }
    public func flush(_ stats: [String: AggregateStats]) throws { onStatistics?(stats) }
    public func trace(_ entry: TraceEntry) throws { onTrace?(entry) }
}

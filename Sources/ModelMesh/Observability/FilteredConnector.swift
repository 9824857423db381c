/// A connector built from configuration, with what its configuration restricts applied
/// before anything reaches it: its ``ObservabilityConnectorConfiguration/channels``, the
/// trace severity floor (`tracing.min_severity`), the payload limit of request logs
/// (`logging.max_payload_size`) and the statistics scopes (`statistics.scopes`).
///
/// ``ObservabilityRegistry/makeConnectors(for:)`` wraps a connector in one only when its
/// configuration restricts something. ``EventEmitter`` treats it as the connector it wraps:
/// subscribing both is one subscription, and ``EventEmitter/connectors`` lists ``base``.
public final class FilteredConnector: ObservabilityConnector {
    /// The connector receiving what passes.
    public let base: any ObservabilityConnector
    public let channels: Set<ObservabilityChannel>
    /// Traces below this severity are dropped.
    public let traceMinSeverity: TraceSeverity
    /// Prompt and response text of request logs is cut to this many UTF-8 bytes.
    public let maxPayloadSize: Int?
    /// Statistics of other scope kinds are dropped from snapshots.
    public let statisticsScopes: Set<StatisticsScopeKind>

    public init(
        _ base: any ObservabilityConnector, channels: Set<ObservabilityChannel> = Set(ObservabilityChannel.allCases),
        traceMinSeverity: TraceSeverity = .debug, maxPayloadSize: Int? = nil,
        statisticsScopes: Set<StatisticsScopeKind> = Set(StatisticsScopeKind.allCases)
    ) {
        self.base = base
        self.channels = channels
        self.traceMinSeverity = traceMinSeverity
        self.maxPayloadSize = maxPayloadSize
        self.statisticsScopes = statisticsScopes
    }

    /// `connector` with the restrictions of `entry` and `configuration`, or `connector`
    /// itself when they restrict nothing.
    static func wrap(
        _ connector: any ObservabilityConnector, entry: ObservabilityConnectorConfiguration,
        configuration: ObservabilityConfiguration
    ) -> any ObservabilityConnector {
        let everyChannel = entry.channels == Set(ObservabilityChannel.allCases)
        let everyScope = configuration.statisticsScopes == Set(StatisticsScopeKind.allCases)
        // The router does not build traces below `.info`; a floor there filters nothing more.
        let severityFloor = configuration.traceMinSeverity > .info
        guard !everyChannel || !everyScope || severityFloor || configuration.maxPayloadSize != nil else {
            return connector
        }
        return FilteredConnector(
            connector, channels: entry.channels, traceMinSeverity: configuration.traceMinSeverity,
            maxPayloadSize: configuration.maxPayloadSize, statisticsScopes: configuration.statisticsScopes)
    }

    public func emit(_ event: RoutingEvent) throws {
        guard channels.contains(.events) else { return }
        try base.emit(event)
    }

    public func log(_ entry: RequestLogEntry) throws {
        guard channels.contains(.logs) else { return }
        guard let maxPayloadSize else { return try base.log(entry) }
        try base.log(RequestLogRedactor.limitPayloads(of: entry, toBytes: maxPayloadSize))
    }

    public func flush(_ stats: [String: AggregateStats]) throws {
        guard channels.contains(.statistics) else { return }
        guard statisticsScopes != Set(StatisticsScopeKind.allCases) else { return try base.flush(stats) }
        let kept = stats.filter { key, _ in StatisticsScopeKind(key: key).map(statisticsScopes.contains) ?? true }
        guard !kept.isEmpty else { return }
        try base.flush(kept)
    }

    public func trace(_ entry: TraceEntry) throws {
        guard channels.contains(.traces), entry.severity >= traceMinSeverity else { return }
        try base.trace(entry)
    }

    public func shutdown() async { await base.shutdown() }
}

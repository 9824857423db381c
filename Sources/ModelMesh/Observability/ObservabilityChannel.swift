/// The four channels of an observability connector: what it is sent.
///
/// In YAML a connector entry may list them, `channels: [events, logs, stats, traces]`.
/// Without a list, a connector under `observability.routing` or in `observability.connectors`
/// receives events, one under `observability.logging` request logs, one under
/// `observability.statistics` statistics and one under `observability.tracing` traces; the
/// single connector of the `observability: {connector: ...}` shape receives all four.
public enum ObservabilityChannel: String, Sendable, Hashable, Codable, CaseIterable {
    /// Routing events (``ObservabilityConnector/emit(_:)``).
    case events
    /// Request log entries (``ObservabilityConnector/log(_:)``).
    case logs
    /// Statistics snapshots (``ObservabilityConnector/flush(_:)``).
    case statistics = "stats"
    /// Trace entries (``ObservabilityConnector/trace(_:)``).
    case traces

    /// The channel a YAML name denotes: the raw values and the spellings `requests`,
    /// `request_logs`, `logging`, `statistics`, `tracing`, `event`.
    public init?(name: String) {
        switch name.lowercased() {
        case "events", "event", "routing": self = .events
        case "logs", "requests", "request_logs", "logging": self = .logs
        case "stats", "statistics": self = .statistics
        case "traces", "tracing": self = .traces
        default: return nil
        }
    }
}

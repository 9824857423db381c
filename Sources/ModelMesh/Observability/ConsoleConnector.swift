import Foundation
import Synchronization

/// An observability connector that prints one readable line per record (`modelmesh.console.v1`).
///
/// Events always print, e.g.
/// `[modelmesh] 12:00:00.123 model_rotated pool=chat model=b from_model=a reason=server_error`
/// (UTC time of day, then the ids present, then the metadata sorted by key). Request logs,
/// statistics and traces print only when enabled: ``Options/requests``,
/// ``Options/statistics`` and ``Options/traceMinSeverity``.
///
/// Settings: `target` (`stdout` | `stderr`, default `stdout`), `prefix` (default
/// `[modelmesh]`), `requests` (bool, default false), `statistics` (bool, default false),
/// `min_severity` (trace severity to print, default `warning`).
public final class ConsoleConnector: ObservabilityConnector {
    /// The connector ID under which it is registered.
    public static let id = "modelmesh.console.v1"

    /// What the console prints.
    public struct Options: Sendable {
        /// Starts every line.
        public var prefix: String = "[modelmesh]"
        /// Print one line per request log entry.
        public var requests: Bool = false
        /// Print one line per scope on each statistics flush.
        public var statistics: Bool = false
        /// Traces at or above this severity are printed; `nil` prints none.
        public var traceMinSeverity: TraceSeverity? = .warning

        public init(
            prefix: String = "[modelmesh]", requests: Bool = false, statistics: Bool = false,
            traceMinSeverity: TraceSeverity? = .warning
        ) {
            self.prefix = prefix
            self.requests = requests
            self.statistics = statistics
            self.traceMinSeverity = traceMinSeverity
        }
    }

    private let options: Options
    private let sink: @Sendable (String) -> Void
    // Keeps lines from concurrent tasks whole and in one order.
    private let writeLock = Mutex(())

    /// Creates a console connector writing lines (without trailing newline) to `sink`;
    /// the default sink writes them to standard output.
    public init(options: Options = Options(), sink: (@Sendable (String) -> Void)? = nil) {
        self.options = options
        self.sink = sink ?? Self.standardOutput
    }

    /// Creates a console connector from its configuration settings.
    public convenience init(configuration: ObservabilityConnectorConfiguration) throws {
        var options = Options()
        options.prefix = try configuration.string("prefix", default: options.prefix) ?? options.prefix
        options.requests = try configuration.bool("requests", default: false)
        options.statistics = try configuration.bool("statistics", default: false)
        if try configuration.string("min_severity") == "none" {
            options.traceMinSeverity = nil
        } else {
            options.traceMinSeverity = try configuration.severity("min_severity", default: .warning)
        }
        switch try configuration.string("target", default: "stdout") {
        case "stdout": self.init(options: options)
        case "stderr": self.init(options: options, sink: Self.standardError)
        default: throw configuration.invalid("target", "must be stdout or stderr")
        }
    }

    public func emit(_ event: RoutingEvent) throws {
        var fields: [(String, String)] = []
        if let pool = event.poolID { fields.append(("pool", pool)) }
        if let model = event.modelID { fields.append(("model", model)) }
        if let provider = event.providerID { fields.append(("provider", provider)) }
        for key in event.metadata.keys.sorted() {
            if let value = event.metadata[key] { fields.append((key, value.compactText)) }
        }
        write(event.timestamp, event.eventType.rawValue, fields)
    }

    public func log(_ entry: RequestLogEntry) throws {
        guard options.requests else { return }
        var fields: [(String, String)] = [("id", entry.requestID)]
        if let pool = entry.poolID { fields.append(("pool", pool)) }
        if let model = entry.modelID { fields.append(("model", model)) }
        fields.append(("status", String(entry.status)))
        fields.append(("latency_ms", String(Int(entry.latencyMs.rounded()))))
        fields.append(("tokens", "\(entry.tokensIn)/\(entry.tokensOut)"))
        if entry.attempts.count > 1 { fields.append(("attempts", String(entry.attempts.count))) }
        if let error = entry.error { fields.append(("error", error)) }
        write(entry.timestamp, "request", fields)
    }

    public func flush(_ stats: [String: AggregateStats]) throws {
        guard options.statistics else { return }
        let now = Date()
        for scope in stats.keys.sorted() {
            guard let s = stats[scope] else { continue }
            write(
                now, "stats",
                [
                    ("scope", scope), ("requests", String(s.requestsTotal)), ("failed", String(s.requestsFailed)),
                    ("p95_ms", String(Int(s.latencyP95.rounded()))), ("rotations", String(s.rotationEvents)),
                ])
        }
    }

    public func trace(_ entry: TraceEntry) throws {
        guard let minimum = options.traceMinSeverity, entry.severity >= minimum else { return }
        var fields: [(String, String)] = [("component", entry.component)]
        for key in entry.metadata.keys.sorted() {
            if let value = entry.metadata[key] { fields.append((key, value.compactText)) }
        }
        write(entry.timestamp, "\(entry.severity.rawValue) \(Self.quoted(entry.message))", fields)
    }

    private func write(_ date: Date, _ what: String, _ fields: [(String, String)]) {
        var line = "\(options.prefix) \(Self.timeOfDay(date)) \(what)"
        for (key, value) in fields { line += " \(key)=\(Self.quoted(value))" }
        writeLock.withLock { _ in sink(line) }
    }

    /// `HH:mm:ss.SSS` in UTC, computed directly: formatters are too slow for every event.
    static func timeOfDay(_ date: Date) -> String {
        // Nearest, not down: 0.123 s is stored as 0.12299999... in a Double.
        let millis = Int((date.timeIntervalSince1970 * 1000).rounded())
        let ofDay = ((millis % 86_400_000) + 86_400_000) % 86_400_000
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let ms = ofDay % 1000
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return "\(two(ofDay / 3_600_000)):\(two(ofDay / 60_000 % 60)):\(two(ofDay / 1000 % 60)).\(msText)"
    }

    static func quoted(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: \.isWhitespace) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    private static let standardOutput: @Sendable (String) -> Void = { line in
        try? FileHandle.standardOutput.write(contentsOf: Data((line + "\n").utf8))
    }

    private static let standardError: @Sendable (String) -> Void = { line in
        try? FileHandle.standardError.write(contentsOf: Data((line + "\n").utf8))
    }
}

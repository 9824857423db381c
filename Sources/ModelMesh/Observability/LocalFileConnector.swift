import Foundation

/// An observability connector writing JSON lines to a local file (`modelmesh.local-file.v1`).
///
/// ``emit(_:)`` and the other channels only append the record to a bounded in-memory buffer;
/// a dedicated writer thread encodes and writes it, so the routing path never waits on disk.
/// When the buffer is full the record is dropped and counted in ``droppedCount``.
///
/// Line shapes, one JSON object per line:
/// - routing events: exactly the event JSON of ``RoutingEvent/jsonLine()`` (keys `event_type`,
///   `timestamp`, `model_id`, `provider_id`, `pool_id`, `metadata`), with no extra key;
/// - everything else carries a `kind` key: `request_log` (the ``RequestLogEntry`` fields),
///   `statistics` (one line per scope: `scope`, `timestamp` and the ``AggregateStats`` fields),
///   `trace` (the ``TraceEntry`` fields). Records without `event_type` are therefore never events.
///
/// The file rotates by size: when the next line would push it past `max_size`, `events.jsonl`
/// becomes `events.jsonl.1`, the former `.1` becomes `.2`, and so on; at most `max_files`
/// rotated files are kept beside the active one (0: the file is truncated instead).
///
/// Settings: `path` (default `modelmesh-events.jsonl`), `max_size` (bytes or `10MB`, default
/// 10 MB), `max_files` (default 5), `buffer_size` (records, default 10 000), `channels` (list of
/// `events`, `logs`, `stats`, `traces`; default all), `min_severity` (traces, default `info`).
/// Built from a configuration file, the channels a file receives are decided where it is
/// configured (see ``ObservabilityChannel``), before records reach it.
///
/// Call ``shutdown()`` (or ``EventEmitter/shutdown()``) before exit: it writes out the buffer
/// and closes the file.
public final class LocalFileConnector: ObservabilityConnector {
    /// The connector ID under which it is registered.
    public static let id = "modelmesh.local-file.v1"

    /// The observability channels a file can record.
    public enum Channel: String, Sendable, CaseIterable {
        case events, requests, statistics, traces

        /// The channel a name denotes: its raw value or an ``ObservabilityChannel`` name
        /// (`logs` for requests, `stats` for statistics).
        public init?(name: String) {
            if let channel = Channel(rawValue: name) {
                self = channel
                return
            }
            switch ObservabilityChannel(name: name) {
            case .events: self = .events
            case .logs: self = .requests
            case .statistics: self = .statistics
            case .traces: self = .traces
            case nil: return nil
            }
        }
    }

    /// Where and how the connector writes.
    public struct Options: Sendable {
        /// The active file; rotated files get `.1`, `.2`, ... appended.
        public var path: String
        /// Rotate when the file would grow past this many bytes (0: never rotate).
        public var maxSize: Int = 10 << 20
        /// Rotated files kept beside the active one.
        public var maxFiles: Int = 5
        /// Records buffered for the writer before new ones are dropped.
        public var bufferSize: Int = 10_000
        /// The channels written to the file.
        public var channels: Set<Channel> = Set(Channel.allCases)
        /// Traces below this severity are not written.
        public var traceMinSeverity: TraceSeverity = .info

        public init(path: String) { self.path = path }
    }

    private let options: Options
    private let writer: LocalFileWriter

    /// Opens (creating it and its directory if needed) the file at `options.path` and starts
    /// the writer thread.
    ///
    /// - Throws: ``ObservabilityError`` with code `output_unavailable` when the file cannot be opened.
    public init(options: Options) throws {
        self.options = options
        do {
            writer = try LocalFileWriter(options: options)
        } catch {
            throw ObservabilityError(
                .outputUnavailable, connectorID: Self.id, setting: "path",
                "Cannot open '\(options.path)' for writing: \(error)",
                hint: "check that the directory is writable")
        }
    }

    /// Creates a file connector from its configuration settings.
    public convenience init(configuration: ObservabilityConnectorConfiguration) throws {
        var options = Options(path: try configuration.string("path", default: "modelmesh-events.jsonl") ?? "")
        guard !options.path.isEmpty else { throw configuration.invalid("path", "must not be empty") }
        options.maxSize = try configuration.byteSize("max_size", default: options.maxSize)
        options.maxFiles = try configuration.int("max_files", default: options.maxFiles)
        options.bufferSize = try configuration.int("buffer_size", default: options.bufferSize)
        guard options.maxFiles >= 0 else { throw configuration.invalid("max_files", "must not be negative") }
        guard options.bufferSize > 0 else { throw configuration.invalid("buffer_size", "must be positive") }
        if let list = configuration.settings["channels"] {
            let entries = list.arrayValue ?? []
            let channels = entries.compactMap { $0.stringValue.flatMap(Channel.init(name:)) }
            guard !entries.isEmpty, channels.count == entries.count else {
                throw configuration.invalid("channels", "must list events, logs, stats or traces")
            }
            options.channels = Set(channels)
        }
        options.traceMinSeverity = try configuration.severity("min_severity", default: .info)
        try self.init(options: options)
    }

    deinit { writer.close() }

    /// Records dropped because the buffer was full (or the connector already shut down).
    public var droppedCount: Int { writer.droppedCount }

    public func emit(_ event: RoutingEvent) throws {
        guard options.channels.contains(.events) else { return }
        writer.enqueue(.event(event))
    }

    public func log(_ entry: RequestLogEntry) throws {
        guard options.channels.contains(.requests) else { return }
        writer.enqueue(.requestLog(entry))
    }

    public func flush(_ stats: [String: AggregateStats]) throws {
        guard options.channels.contains(.statistics), !stats.isEmpty else { return }
        writer.enqueue(.statistics(stats, Date()))
    }

    public func trace(_ entry: TraceEntry) throws {
        guard options.channels.contains(.traces), entry.severity >= options.traceMinSeverity else { return }
        writer.enqueue(.trace(entry))
    }

    /// Waits until every record accepted so far is written to the file.
    public func drain() async { await writer.drain() }

    /// Writes out every buffered record, closes the file and stops the writer thread.
    /// Records arriving afterwards are dropped.
    public func shutdown() async {
        writer.close()
        await writer.finished()
    }

    /// Test hook: holds the writer so the buffer fills deterministically.
    func pauseWriter() { writer.setPaused(true) }

    /// Test hook: lets a paused writer continue.
    func resumeWriter() { writer.setPaused(false) }
}

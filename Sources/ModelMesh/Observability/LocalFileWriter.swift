import Dispatch
import Foundation
import Logging
import Synchronization

/// The background half of ``LocalFileConnector``: a bounded buffer drained by a dedicated
/// thread that encodes records, appends them to the file and rotates it by size.
///
/// A thread rather than a task, so blocking file I/O never occupies the cooperative pool.
final class LocalFileWriter: Sendable {
    enum Record: Sendable {
        case event(RoutingEvent)
        case requestLog(RequestLogEntry)
        case statistics([String: AggregateStats], Date)
        case trace(TraceEntry)
    }

    private struct Waiter {
        /// Resume once this many records are processed; `nil`: once the writer has finished.
        let target: UInt64?
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var buffer: [Record] = []
        var accepted: UInt64 = 0
        var processed: UInt64 = 0
        var dropped = 0
        var writerIdle = false
        var paused = false
        var closed = false
        var finished = false
        var waiters: [Waiter] = []

        /// Whether the caller must signal the writer; clears the idle flag so it signals once.
        mutating func takeIdleWriter() -> Bool {
            guard writerIdle else { return false }
            writerIdle = false
            return true
        }

        mutating func takeWaiters() -> [CheckedContinuation<Void, Never>] {
            var ready: [CheckedContinuation<Void, Never>] = []
            waiters.removeAll { waiter in
                let done = finished || (waiter.target.map { processed >= $0 } ?? false)
                if done { ready.append(waiter.continuation) }
                return done
            }
            return ready
        }
    }

    private let state = Mutex(State())
    private let wakeUp = DispatchSemaphore(value: 0)
    private let capacity: Int

    init(options: LocalFileConnector.Options) throws {
        capacity = options.bufferSize
        let file = try RotatingFile(options: options)
        let thread = Thread { [self] in run(file) }
        thread.name = "modelmesh.local-file"
        thread.start()
    }

    var droppedCount: Int { state.withLock { $0.dropped } }

    /// Adds `record` to the buffer, or counts it as dropped when the buffer is full or closed.
    func enqueue(_ record: Record) {
        let signal = state.withLock { s -> Bool in
            guard !s.closed, s.buffer.count < capacity else {
                s.dropped += 1
                return false
            }
            s.buffer.append(record)
            s.accepted += 1
            return s.takeIdleWriter()
        }
        if signal { wakeUp.signal() }
    }

    func setPaused(_ paused: Bool) {
        let signal = state.withLock { s in
            s.paused = paused
            return paused ? false : s.takeIdleWriter()
        }
        if signal { wakeUp.signal() }
    }

    /// Stops accepting records; the thread writes what is buffered, closes the file and ends.
    func close() {
        let signal = state.withLock { s in
            s.closed = true
            return s.takeIdleWriter()
        }
        if signal { wakeUp.signal() }
    }

    /// Returns once every record accepted before the call is written (or the writer ended).
    func drain() async {
        await wait { $0.accepted }
    }

    /// Returns once the writer thread has ended.
    func finished() async {
        await wait { _ in nil }
    }

    private func wait(for target: (State) -> UInt64?) async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { s -> Bool in
                let goal = target(s)
                if s.finished || (goal.map { s.processed >= $0 } ?? false) { return true }
                s.waiters.append(Waiter(target: goal, continuation: continuation))
                return false
            }
            if done { continuation.resume() }
        }
    }

    private func run(_ file: RotatingFile) {
        var file = file
        while true {
            let (batch, closing) = state.withLock { s -> ([Record], Bool) in
                if s.buffer.isEmpty || (s.paused && !s.closed) {
                    if s.closed && s.buffer.isEmpty { return ([], true) }
                    s.writerIdle = true
                    return ([], false)
                }
                defer { s.buffer.removeAll(keepingCapacity: true) }
                return (s.buffer, false)
            }
            if closing { break }
            if batch.isEmpty {
                wakeUp.wait()
                continue
            }
            file.write(batch)
            let ready = state.withLock { s in
                s.processed += UInt64(batch.count)
                return s.takeWaiters()
            }
            for continuation in ready { continuation.resume() }
        }
        file.close()
        let ready = state.withLock { s in
            s.finished = true
            return s.takeWaiters()
        }
        for continuation in ready { continuation.resume() }
    }
}

/// The output file of ``LocalFileWriter``, used by the writer thread only.
private struct RotatingFile {
    private let url: URL
    private let maxSize: Int
    private let maxFiles: Int
    private var handle: FileHandle?
    private var size = 0
    private var failures = 0
    private let encoder: JSONEncoder
    private let logger = Logger(label: "modelmesh.observability.local-file")

    init(options: LocalFileConnector.Options) throws {
        url = URL(fileURLWithPath: options.path)
        maxSize = options.maxSize
        maxFiles = options.maxFiles
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.format(date))
        }
        try open()
    }

    private mutating func open() throws {
        let manager = FileManager.default
        try manager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        if !manager.fileExists(atPath: url.path) {
            guard manager.createFile(atPath: url.path, contents: nil) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
            }
        }
        let handle = try FileHandle(forWritingTo: url)
        size = Int(try handle.seekToEnd())
        self.handle = handle
    }

    mutating func write(_ records: [LocalFileWriter.Record]) {
        var pending = Data()
        for record in records {
            for var line in lines(for: record) {
                line.append(UInt8(ascii: "\n"))
                if maxSize > 0, size + pending.count > 0, size + pending.count + line.count > maxSize {
                    append(pending)
                    pending.removeAll(keepingCapacity: true)
                    rotate()
                }
                pending.append(line)
            }
        }
        append(pending)
    }

    mutating func close() {
        try? handle?.synchronize()
        try? handle?.close()
        handle = nil
    }

    private func lines(for record: LocalFileWriter.Record) -> [Data] {
        do {
            switch record {
            case .event(let event):
                return [Data(event.jsonLine().utf8)]
            case .requestLog(let entry):
                return [try encoder.encode(Tagged(kind: "request_log", payload: entry))]
            case .trace(let entry):
                return [try encoder.encode(Tagged(kind: "trace", payload: entry))]
            case .statistics(let stats, let date):
                return try stats.keys.sorted().compactMap { scope in
                    guard let scoped = stats[scope] else { return nil }
                    let extra = ["scope": scope, "timestamp": Timestamp.format(date)]
                    return try encoder.encode(Tagged(kind: "statistics", payload: scoped, extra: extra))
                }
            }
        } catch {
            logger.error("Cannot encode an observability record", metadata: ["error": "\(error)"])
            return []
        }
    }

    private mutating func append(_ data: Data) {
        guard !data.isEmpty else { return }
        do {
            guard let handle else { try open(); return append(data) }
            try handle.write(contentsOf: data)
            size += data.count
        } catch {
            failures += 1
            // Log the first failure and then every 1000th, so a full disk does not flood the log.
            if failures % 1000 == 1 {
                logger.error(
                    "Cannot write to the observability file",
                    metadata: ["path": "\(url.path)", "error": "\(error)", "failures": "\(failures)"])
            }
        }
    }

    private mutating func rotate() {
        close()
        let manager = FileManager.default
        do {
            if maxFiles > 0 {
                let oldest = rotated(maxFiles)
                if manager.fileExists(atPath: oldest.path) { try manager.removeItem(at: oldest) }
                for index in stride(from: maxFiles - 1, through: 1, by: -1) {
                    let source = rotated(index)
                    if manager.fileExists(atPath: source.path) {
                        try manager.moveItem(at: source, to: rotated(index + 1))
                    }
                }
                try manager.moveItem(at: url, to: rotated(1))
            } else {
                try manager.removeItem(at: url)
            }
        } catch {
            logger.error("Cannot rotate the observability file", metadata: ["path": "\(url.path)", "error": "\(error)"])
        }
        do { try open() } catch {
            logger.error("Cannot reopen the observability file", metadata: ["path": "\(url.path)", "error": "\(error)"])
        }
    }

    private func rotated(_ index: Int) -> URL {
        URL(fileURLWithPath: url.path + ".\(index)")
    }
}

/// Encodes `payload`'s keys plus `kind` and any `extra` string keys into one JSON object.
private struct Tagged<Payload: Encodable>: Encodable {
    let kind: String
    let payload: Payload
    var extra: [String: String] = [:]

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        try payload.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(kind, forKey: Key(stringValue: "kind"))
        for (key, value) in extra { try container.encode(value, forKey: Key(stringValue: key)) }
    }
}

import NIOCore

/// One server-sent event: its type, its data, and its id.
public struct SSEEvent: Sendable, Hashable {
    /// The `event:` field, or `nil` when the event had none (the default type `message`).
    public var event: String?
    /// The `data:` lines joined with `\n`.
    public var data: String
    /// The `id:` field, if any.
    public var id: String?

    public init(event: String? = nil, data: String, id: String? = nil) {
        self.event = event
        self.data = data
        self.id = id
    }
}

/// An error of the SSE line protocol.
public struct SSEParserError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The size limit that was exceeded.
    public var limit: Int

    public var description: String { "A server-sent event exceeded \(limit) bytes" }
}

/// An incremental parser of the `text/event-stream` line protocol.
///
/// Feed it the body as it arrives, in buffers of any size; it returns every event that a
/// blank line completed. Lines end with `\n`, `\r\n` or `\r`, also when the two bytes of a
/// `\r\n` arrive in different buffers. Comment lines (`: ...`) are ignored, `data:` lines
/// accumulate, and an event without data is not dispatched (as browsers do).
///
/// ```swift
/// var parser = SSEParser()
/// for try await buffer in body {
///     for event in try parser.parse(buffer) { handle(event) }
/// }
/// if let last = parser.finish() { handle(last) }
/// ```
public struct SSEParser: Sendable {
    /// Bytes of the line not yet terminated.
    private var line: [UInt8] = []
    /// The previous buffer ended with `\r`: a leading `\n` in the next one belongs to it.
    private var pendingCR = false
    private var eventType: String?
    private var data: [UInt8] = []
    private var hasData = false
    private var lastEventID: String?
    private var eventID: String?
    private let maxEventSize: Int

    /// A parser that refuses events (and lines) larger than `maxEventSize` bytes.
    public init(maxEventSize: Int = 16 * 1024 * 1024) {
        self.maxEventSize = maxEventSize
    }

    /// Parses the next piece of the stream and returns the events it completed.
    public mutating func parse(_ buffer: ByteBuffer) throws -> [SSEEvent] {
        try buffer.withUnsafeReadableBytes { try parse(bytes: $0) }
    }

    /// Parses the next piece of the stream and returns the events it completed.
    public mutating func parse(_ bytes: some Sequence<UInt8>) throws -> [SSEEvent] {
        var events: [SSEEvent] = []
        for byte in bytes {
            try consume(byte, into: &events)
        }
        return events
    }

    private mutating func parse(bytes: UnsafeRawBufferPointer) throws -> [SSEEvent] {
        var events: [SSEEvent] = []
        for byte in bytes {
            try consume(byte, into: &events)
        }
        return events
    }

    /// The event still open when the stream ended, if it has data.
    ///
    /// Strictly, an event not closed by a blank line is discarded at the end of the stream;
    /// some servers omit the final blank line, so the body having ended cleanly is taken as
    /// the event's end.
    public mutating func finish() -> SSEEvent? {
        if !line.isEmpty {
            processLine()
            line.removeAll()
        }
        pendingCR = false
        return dispatch()
    }

    private mutating func consume(_ byte: UInt8, into events: inout [SSEEvent]) throws {
        switch byte {
        case UInt8(ascii: "\n"):
            if pendingCR {
                pendingCR = false
                return
            }
            try endLine(into: &events)
        case UInt8(ascii: "\r"):
            pendingCR = true
            try endLine(into: &events)
        default:
            pendingCR = false
            line.append(byte)
            if line.count > maxEventSize { throw SSEParserError(limit: maxEventSize) }
        }
    }

    private mutating func endLine(into events: inout [SSEEvent]) throws {
        if line.isEmpty {
            if let event = dispatch() { events.append(event) }
            return
        }
        processLine()
        line.removeAll(keepingCapacity: true)
        if data.count > maxEventSize { throw SSEParserError(limit: maxEventSize) }
    }

    private mutating func processLine() {
        if line.first == UInt8(ascii: ":") { return }
        let name: ArraySlice<UInt8>
        var value: ArraySlice<UInt8>
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            name = line[..<colon]
            value = line[(colon + 1)...]
            if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        } else {
            name = line[...]
            value = []
        }
        switch String(decoding: name, as: UTF8.self) {
        case "data":
            if hasData { data.append(UInt8(ascii: "\n")) }
            data.append(contentsOf: value)
            hasData = true
        case "event":
            eventType = String(decoding: value, as: UTF8.self)
        case "id":
            // An id containing NUL is ignored, per the protocol.
            if !value.contains(0) { eventID = String(decoding: value, as: UTF8.self) }
        default:
            // `retry:` and unknown fields do not concern a non-browser client.
            break
        }
    }

    private mutating func dispatch() -> SSEEvent? {
        defer {
            eventType = nil
            data.removeAll(keepingCapacity: true)
            hasData = false
        }
        if let eventID {
            lastEventID = eventID
            self.eventID = nil
        }
        guard hasData else { return nil }
        let type = eventType.flatMap { $0.isEmpty ? nil : $0 }
        return SSEEvent(event: type, data: String(decoding: data, as: UTF8.self), id: lastEventID)
    }
}

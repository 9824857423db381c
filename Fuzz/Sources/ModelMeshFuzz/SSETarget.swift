import ModelMeshProviders
import NIOCore

/// `sse`: the `text/event-stream` parser.
///
/// The input is a ``SplitInput``. Its body is parsed three ways — whole, cut at the input's
/// cut points, and (for bodies up to 1 KiB) one byte at a time — alternating the
/// `parse(_: ByteBuffer)` and `parse(_: some Sequence<UInt8>)` entry points, each followed by
/// `finish()`. Invariants:
///
/// 1. No crash.
/// 2. Cutting does not change the events: every way gives the same events.
/// 3. Cutting does not change whether the size limit is hit. When it is, the events a cut
///    parse delivered before the error are a prefix of the unlimited parse's events (a
///    `parse` call that throws loses the events it completed, by design).
/// 4. Writing the events back out as SSE and parsing that gives the same events.
///
/// Header flags: bit 3 set parses with a small `maxEventSize` (1 + 8 × the top 4 bits), to
/// exercise the limit; otherwise the default (16 MiB).
enum SSETargets {
    struct Outcome: Equatable {
        var events: [SSEEvent]
        /// The size limit was exceeded (the parse stopped there).
        var exceeded: Bool
    }

    static func run(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
        guard let split = SplitInput(input) else { return -1 }
        let limited = split.flags & 0x08 != 0
        let limit = limited ? 1 + 8 * Int(split.flags >> 4) : 16 * 1024 * 1024

        let whole = parse([split.body[...]], limit: limit, startWithBuffer: false)
        let cut = parse(split.pieces, limit: limit, startWithBuffer: true)
        let bytewise =
            split.body.count <= 1024
            ? parse(split.body.indices.map { split.body[$0...$0] }, limit: limit, startWithBuffer: false) : nil

        if whole.exceeded != cut.exceeded || (bytewise.map { $0.exceeded != whole.exceeded } ?? false) {
            fuzzFailure(
                "SSE size limit \(limit) hit whole=\(whole.exceeded) cut=\(cut.exceeded) "
                    + "bytewise=\(bytewise.map { String($0.exceeded) } ?? "-") at cuts \(split.cuts); body \(hex(split.body))")
        }
        if !whole.exceeded {
            if cut.events != whole.events {
                fuzzFailure(
                    "SSE events differ when the body is cut at \(split.cuts):\n whole: \(whole.events)\n cut:   \(cut.events)\n body \(hex(split.body))"
                )
            }
            if let bytewise, bytewise.events != whole.events {
                fuzzFailure(
                    "SSE events differ when the body is fed one byte at a time:\n whole: \(whole.events)\n bytes: \(bytewise.events)\n body \(hex(split.body))"
                )
            }
            // Round trip: the events written back as SSE parse to the same events.
            let rewritten = serialize(whole.events)
            let reparsed = parse([rewritten[...]], limit: Int.max, startWithBuffer: true)
            if reparsed.events != whole.events {
                fuzzFailure(
                    "SSE events do not survive being written back:\n parsed:   \(whole.events)\n reparsed: \(reparsed.events)\n body \(hex(split.body))"
                )
            }
        } else {
            let reference = parse([split.body[...]], limit: Int.max, startWithBuffer: false)
            for outcome in [cut, bytewise].compactMap({ $0 }) where !reference.events.starts(with: outcome.events) {
                fuzzFailure(
                    "SSE events delivered before the size error are not a prefix of the unlimited parse:\n"
                        + " before error: \(outcome.events)\n unlimited:    \(reference.events)\n body \(hex(split.body))")
            }
        }
        return 0
    }

    /// Parses `pieces` in order with one parser, then `finish()`.
    static func parse(_ pieces: [ArraySlice<UInt8>], limit: Int, startWithBuffer: Bool) -> Outcome {
        var parser = SSEParser(maxEventSize: limit)
        var events: [SSEEvent] = []
        do {
            for (index, piece) in pieces.enumerated() {
                if (index % 2 == 0) == startWithBuffer {
                    events += try parser.parse(ByteBuffer(bytes: piece))
                } else {
                    events += try parser.parse(piece)
                }
            }
            if let last = parser.finish() { events.append(last) }
            return Outcome(events: events, exceeded: false)
        } catch let error as SSEParserError {
            if error.limit != limit { fuzzFailure("SSEParserError reports limit \(error.limit), parser has \(limit)") }
            return Outcome(events: events, exceeded: true)
        } catch {
            fuzzFailure("SSEParser threw an unexpected error: \(error)")
        }
    }

    /// The events as an event stream: `id`, `event`, one `data:` line per line of data, a blank line.
    static func serialize(_ events: [SSEEvent]) -> [UInt8] {
        var text = ""
        for event in events {
            if let id = event.id { text += "id: \(id)\n" }
            if let type = event.event { text += "event: \(type)\n" }
            for line in event.data.split(separator: "\n", omittingEmptySubsequences: false) {
                text += "data: \(line)\n"
            }
            text += "\n"
        }
        return Array(text.utf8)
    }
}

import ModelMeshProviders
import NIOCore
import Testing

@Suite("SSEParser")
struct SSEParserTests {
    private func parseAll(_ pieces: [String]) throws -> [SSEEvent] {
        var parser = SSEParser()
        var events: [SSEEvent] = []
        for piece in pieces { events += try parser.parse(ByteBuffer(string: piece)) }
        return events
    }

    @Test("Events separated by blank lines, with LF")
    func simpleEvents() throws {
        let events = try parseAll(["data: one\n\ndata: two\n\n"])
        #expect(events == [SSEEvent(data: "one"), SSEEvent(data: "two")])
    }

    @Test("CRLF and lone CR line endings")
    func lineEndings() throws {
        #expect(
            try parseAll(["data: a\r\n\r\ndata: b\r\rdata: c\n\n"]) == [
                SSEEvent(data: "a"), SSEEvent(data: "b"), SSEEvent(data: "c"),
            ])
    }

    @Test("A CRLF split across buffers is one line ending")
    func crlfAcrossBuffers() throws {
        let events = try parseAll(["data: a\r", "\n", "data: b\r", "\n\r", "\n"])
        #expect(events == [SSEEvent(data: "a\nb")])
    }

    @Test("Every split point of a stream gives the same events")
    func everySplitPoint() throws {
        let stream = "event: delta\r\ndata: {\"a\":1}\r\n\r\n: keep-alive\n\ndata: x\ndata: y\n\nid: 7\ndata: z\n\n"
        let expected = try parseAll([stream])
        #expect(expected.count == 3)
        let bytes = Array(stream.utf8)
        for split in 0...bytes.count {
            var parser = SSEParser()
            var events = try parser.parse(bytes[..<split])
            events += try parser.parse(bytes[split...])
            #expect(events == expected, "split at \(split)")
        }
        var parser = SSEParser()
        var byteByByte: [SSEEvent] = []
        for byte in bytes { byteByByte += try parser.parse([byte]) }
        #expect(byteByByte == expected)
    }

    @Test("event, multi-line data, id; comments ignored")
    func fields() throws {
        let events = try parseAll([
            ": comment\n", "event: content_block_delta\n", "data: line 1\n", "data: line 2\n", "id: 42\n", "\n",
        ])
        #expect(events == [SSEEvent(event: "content_block_delta", data: "line 1\nline 2", id: "42")])
    }

    @Test("No space after the colon; a field without colon; an empty data line")
    func fieldSyntax() throws {
        let events = try parseAll(["data:tight\n\n", "data\n\n", "data: \n\n"])
        #expect(events == [SSEEvent(data: "tight"), SSEEvent(data: ""), SSEEvent(data: "")])
    }

    @Test("An event type without data is not dispatched and does not leak into the next event")
    func eventWithoutData() throws {
        let events = try parseAll(["event: ping\n\n", "data: real\n\n"])
        #expect(events == [SSEEvent(data: "real")])
    }

    @Test("A comment-only stream yields nothing")
    func commentsOnly() throws {
        #expect(try parseAll([": OPENROUTER PROCESSING\n\n", ":\n\n"]).isEmpty)
    }

    @Test("finish() returns an event not closed by a blank line")
    func finishPending() throws {
        var parser = SSEParser()
        #expect(try parser.parse(ByteBuffer(string: "data: [DONE]")).isEmpty)
        #expect(parser.finish() == SSEEvent(data: "[DONE]"))
        #expect(parser.finish() == nil)
    }

    @Test("Oversized events are refused")
    func sizeLimit() throws {
        var parser = SSEParser(maxEventSize: 16)
        #expect(throws: SSEParserError.self) {
            try parser.parse(ByteBuffer(string: "data: " + String(repeating: "x", count: 64) + "\n\n"))
        }
    }

    @Test("UTF-8 split across buffers is reassembled")
    func utf8Split() throws {
        let bytes = Array("data: héllo ✓\n\n".utf8)
        var parser = SSEParser()
        var events = try parser.parse(bytes[..<8])
        events += try parser.parse(bytes[8...])
        #expect(events == [SSEEvent(data: "héllo ✓")])
    }
}

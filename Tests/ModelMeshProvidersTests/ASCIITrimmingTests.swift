import ModelMesh
import Testing

@testable import ModelMeshProviders

@Suite("ASCII whitespace trimming on the per-chunk path")
struct ASCIITrimmingTests {
    @Test("Leading and trailing ASCII whitespace goes; inner and non-ASCII whitespace stays")
    func trims() {
        #expect(" \t{\"a\": 1}\r\n".trimmingASCIIWhitespace() == "{\"a\": 1}")
        #expect("a  b".trimmingASCIIWhitespace() == "a  b")
        #expect(" \n\t\r ".trimmingASCIIWhitespace() == "")
        #expect("".trimmingASCIIWhitespace() == "")
        #expect("\u{0B}x\u{0C}".trimmingASCIIWhitespace() == "x")
        // A no-break space is not HTTP or SSE whitespace.
        #expect("\u{A0}x ".trimmingASCIIWhitespace() == "\u{A0}x")
        #expect(" héllo ".trimmingASCIIWhitespace() == "héllo")
        let sliced = "[ padded ]".dropFirst().dropLast()
        #expect(sliced.trimmingASCIIWhitespace() == "padded")
    }

    @Test("A chunk, the end marker and a keep-alive decode the same with padding around the data")
    func paddedEvents() throws {
        var decoder = OpenAIChunkDecoder(fallbackModel: "gpt-4o-mini")
        let json = #"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#
        guard case .emit(let chunks) = try decoder.decode(SSEEvent(data: "  \(json)\r\n")) else {
            Issue.record("a padded chunk was not emitted")
            return
        }
        #expect(chunks.map(\.choices.first?.delta.content) == ["hi"])
        guard case .end(let none) = try decoder.decode(SSEEvent(data: " [DONE]\n")) else {
            Issue.record("a padded [DONE] did not end the stream")
            return
        }
        #expect(none.isEmpty)
        guard case .skip = try decoder.decode(SSEEvent(data: " \t ")) else {
            Issue.record("a blank event was not skipped")
            return
        }
    }
}

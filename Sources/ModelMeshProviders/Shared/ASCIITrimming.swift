extension Substring {
    /// The text without leading and trailing ASCII whitespace (space, tab, CR, LF, VT, FF).
    ///
    /// For per-chunk and per-response paths: Foundation's `trimmingCharacters(in:)` goes
    /// through `NSString` on Linux and cost a streamed chunk more than its JSON decoding. HTTP
    /// header values and SSE data lines only ever carry ASCII whitespace at their edges.
    func trimmingASCIIWhitespace() -> Substring {
        let bytes = utf8
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, Self.isASCIIWhitespace(bytes[start]) { bytes.formIndex(after: &start) }
        while start < end {
            let last = bytes.index(before: end)
            guard Self.isASCIIWhitespace(bytes[last]) else { break }
            end = last
        }
        return self[start..<end]
    }

    private static func isASCIIWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }
}

extension String {
    /// The text without leading and trailing ASCII whitespace; see ``Substring/trimmingASCIIWhitespace()``.
    func trimmingASCIIWhitespace() -> Substring { self[...].trimmingASCIIWhitespace() }
}

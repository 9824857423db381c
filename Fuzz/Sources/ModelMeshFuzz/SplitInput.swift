/// A fuzz input that also says where to cut its body into pieces.
///
/// Layout: `[header] [cut₁ hi, cut₁ lo] … [cutₖ hi, cutₖ lo] [body …]`
///
/// - The low 3 bits of the header are k, the number of cuts (0–7).
/// - Each cut is a big-endian 16-bit number taken modulo `body.count + 1`, so every position
///   of a body up to 64 KiB can be reached; cuts are sorted, equal cuts give empty pieces.
/// - The high 5 bits of the header are left to the target (`flags`).
///
/// The seed corpus files of the `sse` and `*-stream` targets start with such a header; a
/// header byte of `0x00` means "no cuts, the rest is the body".
struct SplitInput {
    /// The header's high bits (`header & 0xF8`), for target-specific choices.
    var flags: UInt8
    var body: [UInt8]
    /// Cut positions in `0...body.count`, ascending.
    var cuts: [Int]

    init?(_ input: UnsafeBufferPointer<UInt8>) {
        guard let header = input.first else { return nil }
        let count = Int(header & 0x07)
        let headerLength = 1 + 2 * count
        guard input.count >= headerLength else { return nil }
        flags = header & 0xF8
        body = Array(input[headerLength...])
        var cuts: [Int] = []
        for index in 0..<count {
            let raw = Int(input[1 + 2 * index]) << 8 | Int(input[2 + 2 * index])
            cuts.append(raw % (body.count + 1))
        }
        self.cuts = cuts.sorted()
    }

    /// The body cut at ``cuts``: `cuts.count + 1` pieces that concatenate to ``body``.
    var pieces: [ArraySlice<UInt8>] {
        var pieces: [ArraySlice<UInt8>] = []
        var start = 0
        for cut in cuts {
            pieces.append(body[start..<cut])
            start = cut
        }
        pieces.append(body[start...])
        return pieces
    }
}

/// Hex of at most `limit` bytes, for failure messages.
func hex(_ bytes: some Collection<UInt8>, limit: Int = 256) -> String {
    let shown = bytes.prefix(limit).map { byte in
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }.joined()
    return bytes.count > limit ? shown + "…(\(bytes.count) bytes)" : shown
}

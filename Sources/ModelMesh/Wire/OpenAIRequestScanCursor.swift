/// A string value found by ``JSONByteCursor``: the bytes between its quotes, already validated.
struct ScannedJSONString {
    /// The bytes between the quotes (escapes not yet resolved).
    var contents: Range<Int>
    /// Whether the contents hold a backslash escape.
    var hasEscapes: Bool
    /// The UTF-8 length of the string once escapes are resolved.
    var decodedCount: Int
}

/// A number value found by ``JSONByteCursor``, already validated.
struct ScannedJSONNumber {
    /// The number's text.
    var range: Range<Int>
    /// No fraction and no exponent: `12`, `-0`.
    var isIntegerLiteral: Bool
    /// Every digit is zero: `0`, `-0.0e5`.
    var isTrueZero: Bool
}

/// A forward-only reader over JSON bytes that validates as it goes (RFC 8259, UTF-8).
///
/// It never reads outside `bytes`, never traps on any input, and allocates nothing except
/// the text of errors. Containers the caller is not interested in are skipped with
/// ``skipValue()`` without recursion.
struct JSONByteCursor {
    /// The deepest nesting of arrays and objects accepted, as Foundation's `JSONSerialization`.
    static let maximumDepth = 512

    let bytes: UnsafeRawBufferPointer
    var position: Int
    /// Containers open at ``position``.
    var depth = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.position = 0
        // A UTF-8 byte order mark is ignored, as Foundation does.
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { position = 3 }
    }

    var isAtEnd: Bool { position >= bytes.count }

    func malformed(_ message: String, at offset: Int? = nil) -> OpenAIScanError {
        OpenAIScanError(kind: .malformedJSON, message: message, offset: offset ?? position)
    }

    /// A short description of the byte at ``position`` for error messages.
    func describeCurrentByte() -> String {
        guard position < bytes.count else { return "the end of the body" }
        let byte = bytes[position]
        if byte >= 0x21, byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x\(String(byte, radix: 16))"
    }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    /// The byte at ``position`` after whitespace, or `nil` at the end.
    mutating func peekSignificant() -> UInt8? {
        skipWhitespace()
        return position < bytes.count ? bytes[position] : nil
    }

    /// Consumes `byte` after whitespace, or throws naming what was expected.
    mutating func expect(_ byte: UInt8, _ what: @autoclosure () -> String) throws(OpenAIScanError) {
        guard peekSignificant() == byte else {
            throw malformed("expected \(what()), found \(describeCurrentByte())")
        }
        position += 1
    }

    /// Checks nothing but whitespace follows.
    mutating func expectEnd() throws(OpenAIScanError) {
        guard peekSignificant() == nil else {
            throw malformed("unexpected \(describeCurrentByte()) after the JSON value")
        }
    }

    // MARK: Containers

    private mutating func open() throws(OpenAIScanError) {
        guard depth < Self.maximumDepth else {
            throw malformed("arrays and objects are nested deeper than \(Self.maximumDepth)")
        }
        depth += 1
        position += 1
    }

    /// Opens the object at ``position``; `false` when it is empty (and then already closed).
    mutating func openObject() throws(OpenAIScanError) -> Bool {
        try open()
        if peekSignificant() == UInt8(ascii: "}") {
            position += 1
            depth -= 1
            return false
        }
        return true
    }

    /// Opens the array at ``position``; `false` when it is empty (and then already closed).
    mutating func openArray() throws(OpenAIScanError) -> Bool {
        try open()
        if peekSignificant() == UInt8(ascii: "]") {
            position += 1
            depth -= 1
            return false
        }
        return true
    }

    /// Reads a member's key and its colon; leaves ``position`` at the value.
    mutating func readKey() throws(OpenAIScanError) -> ScannedJSONString {
        guard peekSignificant() == UInt8(ascii: "\"") else {
            throw malformed("expected a member name in quotes, found \(describeCurrentByte())")
        }
        let key = try scanString()
        try expect(UInt8(ascii: ":"), "':' after a member name")
        skipWhitespace()
        return key
    }

    /// After a member or element: `true` after a comma (another follows), `false` after the
    /// closing bracket `close`.
    mutating func next(closing close: UInt8) throws(OpenAIScanError) -> Bool {
        switch peekSignificant() {
        case UInt8(ascii: ","):
            position += 1
            return true
        case close:
            position += 1
            depth -= 1
            return false
        default:
            let what = close == UInt8(ascii: "}") ? "',' or '}'" : "',' or ']'"
            throw malformed("expected \(what), found \(describeCurrentByte())")
        }
    }

    /// Validates and steps over one value of any kind.
    mutating func skipValue() throws(OpenAIScanError) {
        guard let byte = peekSignificant() else { throw malformed("expected a value, found the end of the body") }
        switch byte {
        case UInt8(ascii: "{"), UInt8(ascii: "["): try skipContainer()
        case UInt8(ascii: "\""): _ = try scanString()
        default: try skipScalar()
        }
    }

    /// Validates and steps over `true`, `false`, `null` or a number.
    private mutating func skipScalar() throws(OpenAIScanError) {
        switch bytes[position] {
        case UInt8(ascii: "t"): try scanLiteral("true")
        case UInt8(ascii: "f"): try scanLiteral("false")
        case UInt8(ascii: "n"): try scanLiteral("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try scanNumber()
        default: throw malformed("expected a value, found \(describeCurrentByte())")
        }
    }

    /// Steps over `literal` at ``position``.
    mutating func scanLiteral(_ literal: StaticString) throws(OpenAIScanError) {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - position >= count else {
            throw malformed("expected a value, found \(describeCurrentByte())")
        }
        let start = literal.utf8Start
        for index in 0..<count where bytes[position + index] != start[index] {
            throw malformed("expected a value, found \(describeCurrentByte())")
        }
        position += count
    }

    /// Steps over the array or object at ``position`` and everything in it, iteratively.
    private mutating func skipContainer() throws(OpenAIScanError) {
        // One bit per open container of this walk: set for an object.
        var kinds = SIMD8<UInt64>()
        let base = depth
        func isObject(_ level: Int) -> Bool { kinds[level >> 6] & (1 << UInt64(level & 63)) != 0 }

        var afterValue = false
        var level = -1
        while true {
            if !afterValue {
                // At a value, or at the first member/element of a container just opened.
                if level >= 0, isObject(level) {
                    _ = try readKey()
                }
                guard let value = peekSignificant() else {
                    throw malformed("expected a value, found the end of the body")
                }
                switch value {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    try open()
                    level += 1
                    let bit: UInt64 = 1 << UInt64(level & 63)
                    if value == UInt8(ascii: "{") { kinds[level >> 6] |= bit } else { kinds[level >> 6] &= ~bit }
                    let close = value == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
                    if peekSignificant() == close {
                        position += 1
                        depth -= 1
                        level -= 1
                        if depth == base { return }
                        afterValue = true
                    }
                    continue
                case UInt8(ascii: "\""):
                    _ = try scanString()
                default:
                    try skipScalar()
                }
                if level < 0 { return }
                afterValue = true
            } else {
                let close = isObject(level) ? UInt8(ascii: "}") : UInt8(ascii: "]")
                if try next(closing: close) {
                    afterValue = false
                } else {
                    level -= 1
                    if depth == base { return }
                }
            }
        }
    }

    // MARK: Strings

    /// Validates the string at ``position`` (which is a quote) and steps past its closing quote.
    mutating func scanString() throws(OpenAIScanError) -> ScannedJSONString {
        let start = position + 1
        var index = start
        var decoded = 0
        var hasEscapes = false
        let count = bytes.count
        while true {
            guard index < count else { throw malformed("a string is not closed", at: index) }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") {
                hasEscapes = true
                let (length, next) = try scanEscape(at: index)
                decoded += length
                index = next
                continue
            }
            if byte < 0x20 { throw malformed("a control character must be escaped in a string", at: index) }
            if byte < 0x80 {
                decoded += 1
                index += 1
                continue
            }
            let length = try validateUTF8Sequence(at: index)
            decoded += length
            index += length
        }
        position = index + 1
        return ScannedJSONString(contents: start..<index, hasEscapes: hasEscapes, decodedCount: decoded)
    }

    /// Validates the escape at `index` (a backslash): the UTF-8 length it stands for and the
    /// index after it.
    private func scanEscape(at index: Int) throws(OpenAIScanError) -> (length: Int, next: Int) {
        guard index + 1 < bytes.count else { throw malformed("a string is not closed", at: index) }
        switch bytes[index + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
            UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return (1, index + 2)
        case UInt8(ascii: "u"):
            let unit = try hexQuad(at: index + 2)
            switch unit {
            case 0xD800...0xDBFF:
                guard index + 7 < bytes.count, bytes[index + 6] == UInt8(ascii: "\\"),
                    bytes[index + 7] == UInt8(ascii: "u")
                else {
                    throw malformed("a \\u escape of a high surrogate is not followed by its low surrogate", at: index)
                }
                let low = try hexQuad(at: index + 8)
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw malformed("a \\u escape of a high surrogate is not followed by its low surrogate", at: index)
                }
                return (4, index + 12)
            case 0xDC00...0xDFFF:
                throw malformed("a \\u escape of a low surrogate has no high surrogate before it", at: index)
            case 0..<0x80: return (1, index + 6)
            case 0x80..<0x800: return (2, index + 6)
            default: return (3, index + 6)
            }
        default:
            throw malformed("invalid escape sequence in a string", at: index)
        }
    }

    /// The value of four hex digits at `index`.
    private func hexQuad(at index: Int) throws(OpenAIScanError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw malformed("a \\u escape needs four hex digits", at: index) }
        var value: UInt32 = 0
        for offset in 0..<4 {
            let byte = bytes[index + offset]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw malformed("a \\u escape needs four hex digits", at: index)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Validates one multi-byte UTF-8 sequence at `index` (lead byte ≥ 0x80); its length.
    private func validateUTF8Sequence(at index: Int) throws(OpenAIScanError) -> Int {
        let lead = bytes[index]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            high = 0x9F
        case 0xF0:
            length = 4
            low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            high = 0x8F
        default: throw malformed("invalid UTF-8 in a string", at: index)
        }
        guard index + length <= bytes.count else { throw malformed("invalid UTF-8 in a string", at: index) }
        let second = bytes[index + 1]
        guard second >= low, second <= high else { throw malformed("invalid UTF-8 in a string", at: index) }
        for offset in 2..<max(2, length) where bytes[index + offset] & 0xC0 != 0x80 {
            throw malformed("invalid UTF-8 in a string", at: index)
        }
        return length
    }

    /// Whether the validated string equals `literal` once escapes are resolved.
    func string(_ string: ScannedJSONString, equals literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard string.decodedCount == count else { return false }
        let start = literal.utf8Start
        if !string.hasEscapes {
            let base = string.contents.lowerBound
            for index in 0..<count where bytes[base + index] != start[index] { return false }
            return true
        }
        var iterator = UnescapedBytes(bytes: bytes, range: string.contents)
        var index = 0
        while let byte = iterator.next() {
            guard index < count, byte == start[index] else { return false }
            index += 1
        }
        return index == count
    }

    /// The validated string as a Swift `String`.
    func decode(_ string: ScannedJSONString) -> String {
        let slice = UnsafeRawBufferPointer(rebasing: bytes[string.contents])
        if !string.hasEscapes { return String(decoding: slice, as: UTF8.self) }
        return String(unsafeUninitializedCapacity: string.decodedCount) {
            (buffer: UnsafeMutableBufferPointer<UInt8>) -> Int in
            var iterator = UnescapedBytes(bytes: bytes, range: string.contents)
            var index = 0
            while index < buffer.count, let byte = iterator.next() {
                buffer[index] = byte
                index += 1
            }
            return index
        }
    }

    // MARK: Numbers

    /// Validates the number at ``position`` and steps past it. A number whose value overflows
    /// `Double` is refused, as Foundation refuses it.
    mutating func scanNumber() throws(OpenAIScanError) -> ScannedJSONNumber {
        let start = position
        let count = bytes.count
        var index = position
        if index < count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        func isDigit(_ at: Int) -> Bool { at < count && bytes[at] &- UInt8(ascii: "0") < 10 }
        guard isDigit(index) else { throw malformed("a number needs a digit", at: index) }

        // The decimal exponent of the leading significant digit, to find overflow cheaply.
        var firstSignificant: Int? = nil
        var integerDigits = 0
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while isDigit(index) {
                if firstSignificant == nil, bytes[index] != UInt8(ascii: "0") { firstSignificant = integerDigits }
                integerDigits += 1
                index += 1
            }
        }
        var isInteger = true
        var fractionLeading = 0
        if index < count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard isDigit(index) else { throw malformed("a number needs a digit after '.'", at: index) }
            var fractionDigits = 0
            while isDigit(index) {
                if firstSignificant == nil, bytes[index] != UInt8(ascii: "0") {
                    firstSignificant = integerDigits
                    fractionLeading = fractionDigits + 1
                }
                fractionDigits += 1
                index += 1
            }
        }
        var exponent = 0
        if index < count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            isInteger = false
            index += 1
            var negative = false
            if index < count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                negative = bytes[index] == UInt8(ascii: "-")
                index += 1
            }
            guard isDigit(index) else { throw malformed("a number needs a digit in its exponent", at: index) }
            while isDigit(index) {
                // Saturates: any exponent past a million is already out of range or zero.
                if exponent < 1_000_000 { exponent = exponent * 10 + Int(bytes[index] - UInt8(ascii: "0")) }
                index += 1
            }
            if negative { exponent = -exponent }
        }
        position = index
        let number = ScannedJSONNumber(
            range: start..<index, isIntegerLiteral: isInteger, isTrueZero: firstSignificant == nil)
        if let firstSignificant {
            // The value lies in [10^magnitude, 10^(magnitude+1)).
            let magnitude =
                fractionLeading > 0 ? exponent - fractionLeading : integerDigits - firstSignificant - 1 + exponent
            if magnitude >= 309 || (magnitude == 308 && !(doubleValue(of: number)?.isFinite ?? false)) {
                throw malformed("the number is too large for a double", at: start)
            }
        }
        return number
    }

    /// The number's value as Foundation's parser reads it (correctly rounded).
    func doubleValue(of number: ScannedJSONNumber) -> Double? {
        // Numbers of up to 15 bytes fit a small string: no allocation.
        Double(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[number.range]), as: UTF8.self))
    }

    /// An integer literal's exact value, or `nil` when it does not fit `Int`.
    func exactInteger(of number: ScannedJSONNumber) -> Int? {
        var index = number.range.lowerBound
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        var value = 0
        while index < number.range.upperBound {
            let digit = Int(bytes[index] - UInt8(ascii: "0"))
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            // Accumulates negatively so Int.min fits.
            let (sum, overflow2) = times.subtractingReportingOverflow(digit)
            guard !overflow1, !overflow2 else { return nil }
            value = sum
            index += 1
        }
        if negative { return value }
        return value == Int.min ? nil : -value
    }
}

/// The bytes of a validated JSON string's contents with escapes resolved.
struct UnescapedBytes: IteratorProtocol {
    let bytes: UnsafeRawBufferPointer
    var index: Int
    let end: Int
    /// Bytes of a decoded escape still to hand out, lowest first.
    private var pending: UInt32 = 0
    private var pendingCount = 0

    init(bytes: UnsafeRawBufferPointer, range: Range<Int>) {
        self.bytes = bytes
        self.index = range.lowerBound
        self.end = range.upperBound
    }

    mutating func next() -> UInt8? {
        if pendingCount > 0 {
            let byte = UInt8(truncatingIfNeeded: pending)
            pending >>= 8
            pendingCount -= 1
            return byte
        }
        guard index < end else { return nil }
        let byte = bytes[index]
        guard byte == UInt8(ascii: "\\"), index + 1 < end else {
            index += 1
            return byte
        }
        let escaped = bytes[index + 1]
        index += 2
        switch escaped {
        case UInt8(ascii: "b"): return 0x08
        case UInt8(ascii: "f"): return 0x0C
        case UInt8(ascii: "n"): return 0x0A
        case UInt8(ascii: "r"): return 0x0D
        case UInt8(ascii: "t"): return 0x09
        case UInt8(ascii: "u"): break
        default: return escaped
        }
        var scalar = quad()
        if (0xD800...0xDBFF).contains(scalar) {
            index += 2  // the validated `\u` of the low surrogate
            let low = quad()
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low &- 0xDC00)
        }
        let encoded: UInt32
        switch scalar {
        case 0..<0x80:
            return UInt8(truncatingIfNeeded: scalar)
        case 0x80..<0x800:
            encoded = (0xC0 | scalar >> 6) | (0x80 | scalar & 0x3F) << 8
            pendingCount = 1
        case 0x800..<0x10000:
            encoded = (0xE0 | scalar >> 12) | (0x80 | scalar >> 6 & 0x3F) << 8 | (0x80 | scalar & 0x3F) << 16
            pendingCount = 2
        default:
            encoded =
                (0xF0 | scalar >> 18) | (0x80 | scalar >> 12 & 0x3F) << 8 | (0x80 | scalar >> 6 & 0x3F) << 16
                | (0x80 | scalar & 0x3F) << 24
            pendingCount = 3
        }
        pending = encoded >> 8
        return UInt8(truncatingIfNeeded: encoded)
    }

    /// Four validated hex digits at ``index``.
    private mutating func quad() -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 where index < end {
            let byte = bytes[index] | 0x20
            let digit = byte >= UInt8(ascii: "a") ? byte &- UInt8(ascii: "a") &+ 10 : byte &- UInt8(ascii: "0")
            value = value << 4 | UInt32(digit & 0x0F)
            index += 1
        }
        return value
    }
}

extension JSONByteCursor {
    /// Walks an object, offering each member to `member`, which reads the value and returns
    /// `true`, or returns `false` to have it skipped.
    static func readObject(
        _ cursor: inout JSONByteCursor,
        _ member: (ScannedJSONString, inout JSONByteCursor) throws(OpenAIScanError) -> Bool
    ) throws(OpenAIScanError) {
        var more = try cursor.openObject()
        while more {
            let key = try cursor.readKey()
            if try !member(key, &cursor) { try cursor.skipValue() }
            more = try cursor.next(closing: UInt8(ascii: "}"))
        }
    }
}

/// What the engine reads from an OpenAI chat completion request body, found by scanning its
/// bytes rather than decoding it.
///
/// ``scan(_:)-(UnsafeRawBufferPointer)`` validates the whole body as JSON (RFC 8259, UTF-8, at
/// most ``JSONByteCursor/maximumDepth`` levels of nesting) and reads the members below from the
/// top-level object; every other member is validated and skipped. Where a member appears more
/// than once the first one counts, as `JSONDecoder` (and so ``ChatCompletionRequest``) reads
/// it; ``hasRepeatedMembers`` tells a caller that an upstream reading the last one might see
/// something else.
///
/// ```swift
/// let scan = try body.withUnsafeBytes { try OpenAIRequestScan.scan($0) }
/// let routed = try OpenAIRequestScan.splice(body, scan: scan, model: "gpt-4o-mini", includeUsage: scan.stream == true)
/// ```
package struct OpenAIRequestScan: Sendable, Hashable {
    /// `model`, escapes resolved. Required.
    package var model: String
    /// The bytes of the `model` value, quotes included.
    package var modelValueRange: Range<Int>
    /// The offset of the top-level object's closing brace.
    package var closingBraceOffset: Int
    /// `stream`; `nil` when absent or `null`.
    package var stream: Bool?
    /// `max_tokens`; `nil` when absent or `null`.
    package var maxTokens: Int?
    /// `max_completion_tokens`; `nil` when absent or `null`.
    package var maxCompletionTokens: Int?
    /// `n`; `nil` when absent or `null`.
    package var n: Double?
    /// `temperature`; `nil` when absent or `null`.
    package var temperature: Double?
    /// `top_p`; `nil` when absent or `null`.
    package var topP: Double?
    /// `tools` is an array with at least one element.
    package var hasTools = false
    /// `functions` (the legacy form of `tools`) is present and not `null`.
    package var hasFunctions = false
    /// `tool_choice` is present and not `null`.
    package var hasToolChoice = false
    /// `response_format` is present and not `null`.
    package var hasResponseFormat = false
    /// `response_format.type` when it is a string.
    package var responseFormatType: String?
    /// Some `messages[i].content[j]` has `type` `image_url` or `input_image`.
    package var hasImageInput = false
    /// `stream_options` is present and not `null`.
    package var hasStreamOptions = false
    /// `stream_options.include_usage` when it is a boolean.
    package var includeUsage: Bool?
    /// The number of elements of `messages` (0 when absent).
    package var messageCount = 0
    /// The UTF-8 length of every message's text: `content` strings and the `text` of parts of
    /// type `text`, escapes resolved. A cheap estimate of the context size.
    package var contentByteCount = 0
    /// Some top-level member the engine reads (`model`, `stream`, `stream_options`, …), or
    /// `stream_options.include_usage`, appears more than once. JSON leaves the meaning open; the
    /// first one counts here, and an upstream may read the last.
    package var hasRepeatedMembers = false

    package init(model: String, modelValueRange: Range<Int>, closingBraceOffset: Int) {
        self.model = model
        self.modelValueRange = modelValueRange
        self.closingBraceOffset = closingBraceOffset
    }

    /// Scans a request body held in an array.
    package static func scan(_ body: [UInt8]) throws(OpenAIScanError) -> OpenAIRequestScan {
        try withTypedThrows(body) { buffer throws(OpenAIScanError) in try scan(buffer) }
    }

    /// Scans a request body.
    ///
    /// Accepts what Foundation's `JSONSerialization` accepts, except trailing commas and bodies
    /// in UTF-16 or UTF-32. Beyond JSON, refuses (``OpenAIScanError/Kind/invalidField``, with
    /// `param`) what `JSONDecoder` refuses for ``ChatCompletionRequest``: `model` missing or not
    /// a string; `stream` not a boolean; `max_tokens`/`max_completion_tokens` not an integer
    /// (`1e3` and `1.0` are integers; `1.5` is not; neither is anything past ±2^53 written with
    /// a fraction or exponent, nor past `Int` written as digits); `n`, `temperature`, `top_p`
    /// not a number or a nonzero number too small for a double; `messages` not an array,
    /// a message not an object, a `content` not a string, array or `null`.
    package static func scan(_ body: UnsafeRawBufferPointer) throws(OpenAIScanError) -> OpenAIRequestScan {
        try scan(body, plain: false).scan
    }

    /// Scans a request body and, when it is a plain chat request, builds the
    /// ``ChatCompletionRequest`` that `JSONDecoder` would build from it, without decoding.
    ///
    /// Plain means: no member outside `model`, `messages`, `stream`, `max_tokens`,
    /// `max_completion_tokens`, `temperature`, `top_p`, `user` (a string) and `stream_options`
    /// holding only a boolean `include_usage`; no member twice; `messages` an array of
    /// objects with a string `role`, a string or `null` `content` and at most a string `name`.
    /// Anything else (tools, content parts, vendor members) gives `nil` here: decode it.
    package static func scanRequest(_ body: [UInt8]) throws(OpenAIScanError)
        -> (scan: OpenAIRequestScan, plain: ChatCompletionRequest?)
    {
        try withTypedThrows(body) { buffer throws(OpenAIScanError) in try scan(buffer, plain: true) }
    }

    private static func scan(_ body: UnsafeRawBufferPointer, plain: Bool) throws(OpenAIScanError)
        -> (scan: OpenAIRequestScan, plain: ChatCompletionRequest?)
    {
        var cursor = JSONByteCursor(body)
        guard cursor.peekSignificant() == UInt8(ascii: "{") else {
            try cursor.skipValue()
            try cursor.expectEnd()
            throw OpenAIScanError(kind: .notAnObject, message: "the request body must be a JSON object", offset: 0)
        }
        var fields = Fields()
        fields.plain = plain
        var more = try cursor.openObject()
        while more {
            let key = try cursor.readKey()
            try fields.read(member: key, from: &cursor)
            more = try cursor.next(closing: UInt8(ascii: "}"))
        }
        let closingBrace = cursor.position - 1
        try cursor.expectEnd()
        guard let modelRange = fields.modelRange else {
            throw OpenAIScanError(
                kind: .invalidField, message: "'model' is required: send the model or pool to use",
                offset: closingBrace, param: "model")
        }
        var scan = OpenAIRequestScan(
            model: cursor.decode(modelRange),
            modelValueRange: (modelRange.contents.lowerBound - 1)..<(modelRange.contents.upperBound + 1),
            closingBraceOffset: closingBrace)
        fields.copy(to: &scan, cursor: cursor)
        return (scan, fields.plainRequest(scan, cursor: cursor))
    }
}

/// Runs `body` over an array's bytes, keeping the typed error.
func withTypedThrows<T>(
    _ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(OpenAIScanError) -> T
) throws(OpenAIScanError) -> T {
    let result: Result<T, OpenAIScanError> = bytes.withUnsafeBytes { buffer in
        do throws(OpenAIScanError) { return .success(try body(buffer)) } catch { return .failure(error) }
    }
    return try result.get()
}

/// The members of a request as the top-level walk finds them.
private struct Fields {
    /// Members already read, one bit each (the first occurrence counts).
    var seen: UInt32 = 0
    var repeated = false
    var modelRange: ScannedJSONString?
    var stream: Bool?
    var maxTokens: Int?
    var maxCompletionTokens: Int?
    var n: Double?
    var temperature: Double?
    var topP: Double?
    var hasTools = false
    var hasFunctions = false
    var hasToolChoice = false
    var hasResponseFormat = false
    var responseFormatType: ScannedJSONString?
    var hasImageInput = false
    var hasStreamOptions = false
    var includeUsage: Bool?
    var messageCount = 0
    var contentByteCount = 0
    /// Still a plain request (see ``OpenAIRequestScan/scanRequest(_:)``); cleared by the
    /// first member that is not.
    var plain = false
    var plainMessages: [PlainMessage] = []
    var user: ScannedJSONString?

    struct PlainMessage {
        var role: ScannedJSONString
        var content: ScannedJSONString?
        var name: ScannedJSONString?
    }

    /// The request `JSONDecoder` would build, when every member was plain.
    func plainRequest(_ scan: OpenAIRequestScan, cursor: JSONByteCursor) -> ChatCompletionRequest? {
        guard plain, !repeated, seen & (1 << Member.messages.rawValue) != 0 else { return nil }
        let messages = plainMessages.map { message in
            ChatMessage(
                role: cursor.decode(message.role), content: message.content.map { .text(cursor.decode($0)) },
                name: message.name.map { cursor.decode($0) })
        }
        var request = ChatCompletionRequest(
            model: scan.model, messages: messages, stream: stream, maxTokens: maxTokens, temperature: temperature,
            topP: topP, user: user.map { cursor.decode($0) })
        request.maxCompletionTokens = maxCompletionTokens
        if let includeUsage { request.streamOptions = .object(["include_usage": .bool(includeUsage)]) }
        return request
    }

    enum Member: UInt32 {
        case model, stream, maxTokens, maxCompletionTokens, n, temperature, topP, messages, tools, functions
        case toolChoice, responseFormat, streamOptions
    }

    func copy(to scan: inout OpenAIRequestScan, cursor: JSONByteCursor) {
        scan.stream = stream
        scan.maxTokens = maxTokens
        scan.maxCompletionTokens = maxCompletionTokens
        scan.n = n
        scan.temperature = temperature
        scan.topP = topP
        scan.hasTools = hasTools
        scan.hasFunctions = hasFunctions
        scan.hasToolChoice = hasToolChoice
        scan.hasResponseFormat = hasResponseFormat
        scan.responseFormatType = responseFormatType.map { cursor.decode($0) }
        scan.hasImageInput = hasImageInput
        scan.hasStreamOptions = hasStreamOptions
        scan.includeUsage = includeUsage
        scan.messageCount = messageCount
        scan.contentByteCount = contentByteCount
        scan.hasRepeatedMembers = repeated
    }

    static func member(_ key: ScannedJSONString, in cursor: JSONByteCursor) -> Member? {
        // The length narrows the candidates before any byte is compared.
        switch key.decodedCount {
        case 1: return cursor.string(key, equals: "n") ? .n : nil
        case 5:
            if cursor.string(key, equals: "model") { return .model }
            if cursor.string(key, equals: "top_p") { return .topP }
            return cursor.string(key, equals: "tools") ? .tools : nil
        case 6...: break
        default: return nil
        }
        if cursor.string(key, equals: "stream") { return .stream }
        if cursor.string(key, equals: "messages") { return .messages }
        if cursor.string(key, equals: "max_tokens") { return .maxTokens }
        if cursor.string(key, equals: "temperature") { return .temperature }
        if cursor.string(key, equals: "stream_options") { return .streamOptions }
        if cursor.string(key, equals: "tool_choice") { return .toolChoice }
        if cursor.string(key, equals: "response_format") { return .responseFormat }
        if cursor.string(key, equals: "max_completion_tokens") { return .maxCompletionTokens }
        if cursor.string(key, equals: "functions") { return .functions }
        return nil
    }

    mutating func read(member key: ScannedJSONString, from cursor: inout JSONByteCursor) throws(OpenAIScanError) {
        guard let member = Self.member(key, in: cursor) else {
            if plain, user == nil, cursor.string(key, equals: "user"), cursor.peekSignificant() == UInt8(ascii: "\"") {
                user = try cursor.scanString()
                return
            }
            plain = false
            return try cursor.skipValue()
        }
        let bit: UInt32 = 1 << member.rawValue
        if seen & bit != 0 {
            repeated = true
            return try cursor.skipValue()
        }
        seen |= bit
        switch member {
        case .n, .tools, .functions, .toolChoice, .responseFormat: plain = false
        default: break
        }
        switch member {
        case .model:
            guard cursor.peekSignificant() == UInt8(ascii: "\"") else {
                throw invalid(cursor, "model", "'model' must be a string naming the model or pool to use")
            }
            modelRange = try cursor.scanString()
        case .stream: stream = try Self.readBool(&cursor, field: "stream")
        case .maxTokens: maxTokens = try Self.readTokenCap(&cursor, field: "max_tokens")
        case .maxCompletionTokens: maxCompletionTokens = try Self.readTokenCap(&cursor, field: "max_completion_tokens")
        case .n: n = try Self.readDouble(&cursor, field: "n")
        case .temperature: temperature = try Self.readDouble(&cursor, field: "temperature")
        case .topP: topP = try Self.readDouble(&cursor, field: "top_p")
        case .messages: try readMessages(&cursor)
        case .tools:
            if cursor.peekSignificant() == UInt8(ascii: "[") {
                let start = cursor.position
                try cursor.skipValue()
                hasTools = Self.arrayHasElements(cursor, from: start)
            } else {
                try cursor.skipValue()
            }
        case .functions: hasFunctions = try Self.skipNonNull(&cursor)
        case .toolChoice: hasToolChoice = try Self.skipNonNull(&cursor)
        case .responseFormat:
            if cursor.peekSignificant() == UInt8(ascii: "{") {
                hasResponseFormat = true
                try JSONByteCursor.readObject(&cursor) { key, cursor throws(OpenAIScanError) in
                    guard cursor.string(key, equals: "type"), cursor.peekSignificant() == UInt8(ascii: "\"") else {
                        return false
                    }
                    let type = try cursor.scanString()
                    if responseFormatType == nil { responseFormatType = type }
                    return true
                }
            } else {
                hasResponseFormat = try Self.skipNonNull(&cursor)
            }
        case .streamOptions:
            if cursor.peekSignificant() == UInt8(ascii: "{") {
                hasStreamOptions = true
                var seenIncludeUsage = false
                try JSONByteCursor.readObject(&cursor) { key, cursor throws(OpenAIScanError) in
                    guard cursor.string(key, equals: "include_usage") else {
                        plain = false
                        return false
                    }
                    if seenIncludeUsage { repeated = true }
                    defer { seenIncludeUsage = true }
                    switch cursor.peekSignificant() {
                    case UInt8(ascii: "t"):
                        try cursor.scanLiteral("true")
                        if !seenIncludeUsage { includeUsage = true }
                    case UInt8(ascii: "f"):
                        try cursor.scanLiteral("false")
                        if !seenIncludeUsage { includeUsage = false }
                    default:
                        plain = false
                        return false
                    }
                    return true
                }
                if includeUsage == nil { plain = false }
            } else {
                plain = false
                hasStreamOptions = try Self.skipNonNull(&cursor)
            }
        }
    }

    mutating func readMessages(_ cursor: inout JSONByteCursor) throws(OpenAIScanError) {
        switch cursor.peekSignificant() {
        case UInt8(ascii: "["): break
        case UInt8(ascii: "n"):
            plain = false
            return try cursor.scanLiteral("null")
        default: throw invalid(cursor, "messages", "'messages' must be an array of messages")
        }
        var more = try cursor.openArray()
        var index = 0
        while more {
            guard cursor.peekSignificant() == UInt8(ascii: "{") else {
                throw invalid(cursor, "messages[\(index)]", "'messages[\(index)]' must be an object")
            }
            var seenContent = false
            var role: ScannedJSONString?
            var content: ScannedJSONString?
            var name: ScannedJSONString?
            var messageMore = try cursor.openObject()
            while messageMore {
                let key = try cursor.readKey()
                if !seenContent, cursor.string(key, equals: "content") {
                    seenContent = true
                    if plain, cursor.peekSignificant() == UInt8(ascii: "\"") {
                        let text = try cursor.scanString()
                        contentByteCount += text.decodedCount
                        content = text
                    } else {
                        if cursor.peekSignificant() != UInt8(ascii: "n") { plain = false }
                        try readContent(&cursor, message: index)
                    }
                } else if plain, role == nil, cursor.string(key, equals: "role"),
                    cursor.peekSignificant() == UInt8(ascii: "\"")
                {
                    role = try cursor.scanString()
                } else if plain, name == nil, cursor.string(key, equals: "name"),
                    cursor.peekSignificant() == UInt8(ascii: "\"")
                {
                    name = try cursor.scanString()
                } else {
                    // Another member, a repeated one, or one of another type: JSONDecoder decides.
                    plain = false
                    try cursor.skipValue()
                }
                messageMore = try cursor.next(closing: UInt8(ascii: "}"))
            }
            if plain {
                if let role {
                    plainMessages.append(PlainMessage(role: role, content: content, name: name))
                } else {
                    plain = false
                }
            }
            index += 1
            more = try cursor.next(closing: UInt8(ascii: "]"))
        }
        messageCount = index
    }

    mutating func readContent(_ cursor: inout JSONByteCursor, message: Int) throws(OpenAIScanError) {
        switch cursor.peekSignificant() {
        case UInt8(ascii: "\""):
            contentByteCount += try cursor.scanString().decodedCount
            return
        case UInt8(ascii: "n"):
            return try cursor.scanLiteral("null")
        case UInt8(ascii: "["):
            break
        default:
            throw invalid(
                cursor, "messages[\(message)].content",
                "'messages[\(message)].content' must be a string, an array of content parts or null")
        }
        var more = try cursor.openArray()
        while more {
            if cursor.peekSignificant() == UInt8(ascii: "{") {
                try readContentPart(&cursor)
            } else {
                try cursor.skipValue()
            }
            more = try cursor.next(closing: UInt8(ascii: "]"))
        }
    }

    /// One part of multi-part content: counts a text part's text, notes an image.
    mutating func readContentPart(_ cursor: inout JSONByteCursor) throws(OpenAIScanError) {
        var type: ScannedJSONString?
        var typeSeen = false
        var text: ScannedJSONString?
        var textSeen = false
        try JSONByteCursor.readObject(&cursor) { key, cursor throws(OpenAIScanError) in
            if !typeSeen, cursor.string(key, equals: "type") {
                typeSeen = true
                if cursor.peekSignificant() == UInt8(ascii: "\"") {
                    type = try cursor.scanString()
                    return true
                }
            } else if !textSeen, cursor.string(key, equals: "text") {
                textSeen = true
                if cursor.peekSignificant() == UInt8(ascii: "\"") {
                    text = try cursor.scanString()
                    return true
                }
            }
            return false
        }
        guard let type else { return }
        if cursor.string(type, equals: "text") {
            contentByteCount += text?.decodedCount ?? 0
        } else if cursor.string(type, equals: "image_url") || cursor.string(type, equals: "input_image") {
            hasImageInput = true
        }
    }

    func invalid(_ cursor: JSONByteCursor, _ param: String, _ message: String) -> OpenAIScanError {
        OpenAIScanError(kind: .invalidField, message: message, offset: cursor.position, param: param)
    }

    /// Skips a value; whether it was anything but `null`.
    static func skipNonNull(_ cursor: inout JSONByteCursor) throws(OpenAIScanError) -> Bool {
        if cursor.peekSignificant() == UInt8(ascii: "n") {
            try cursor.scanLiteral("null")
            return false
        }
        try cursor.skipValue()
        return true
    }

    /// Whether the array that was just skipped, starting at `start`, has an element.
    static func arrayHasElements(_ cursor: JSONByteCursor, from start: Int) -> Bool {
        var index = start + 1
        while index < cursor.position {
            switch cursor.bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            case UInt8(ascii: "]"): return false
            default: return true
            }
        }
        return false
    }

    static func readBool(_ cursor: inout JSONByteCursor, field: String) throws(OpenAIScanError) -> Bool? {
        switch cursor.peekSignificant() {
        case UInt8(ascii: "t"):
            try cursor.scanLiteral("true")
            return true
        case UInt8(ascii: "f"):
            try cursor.scanLiteral("false")
            return false
        case UInt8(ascii: "n"):
            try cursor.scanLiteral("null")
            return nil
        default:
            throw OpenAIScanError(
                kind: .invalidField, message: "'\(field)' must be true or false", offset: cursor.position,
                param: field)
        }
    }

    /// A number, or `nil` for `null`; anything else is refused naming `field`.
    static func readNumber(
        _ cursor: inout JSONByteCursor, field: String, expected: String
    ) throws(OpenAIScanError) -> ScannedJSONNumber? {
        switch cursor.peekSignificant() {
        case .some(UInt8(ascii: "-")), .some(UInt8(ascii: "0")...UInt8(ascii: "9")):
            return try cursor.scanNumber()
        case UInt8(ascii: "n"):
            try cursor.scanLiteral("null")
            return nil
        default:
            throw OpenAIScanError(
                kind: .invalidField, message: "'\(field)' must be \(expected)", offset: cursor.position, param: field)
        }
    }

    static func readDouble(_ cursor: inout JSONByteCursor, field: String) throws(OpenAIScanError) -> Double? {
        _ = cursor.peekSignificant()
        let start = cursor.position
        guard let number = try readNumber(&cursor, field: field, expected: "a number") else { return nil }
        // As JSONDecoder: a nonzero number that rounds to zero is not representable.
        guard let value = cursor.doubleValue(of: number), value.isFinite, value != 0 || number.isTrueZero else {
            throw OpenAIScanError(
                kind: .invalidField, message: "'\(field)' is too close to zero for a double", offset: start,
                param: field)
        }
        return value
    }

    /// An output-token cap: an integer, possibly written `1e3` or `1.0`.
    static func readTokenCap(_ cursor: inout JSONByteCursor, field: String) throws(OpenAIScanError) -> Int? {
        _ = cursor.peekSignificant()
        let start = cursor.position
        guard let number = try readNumber(&cursor, field: field, expected: "an integer number of tokens") else {
            return nil
        }
        if number.isIntegerLiteral, let value = cursor.exactInteger(of: number) { return value }
        // As JSONDecoder: through a double, exact below 2^53.
        if !number.isIntegerLiteral, let value = cursor.doubleValue(of: number), value.magnitude < 0x1p53,
            let integer = Int(exactly: value)
        {
            return integer
        }
        throw OpenAIScanError(
            kind: .invalidField,
            message: "'\(field)' is not a whole number of tokens in range; send an integer from 1 to "
                + "\(ChatCompletionRequest.maxTokensLimit), or leave '\(field)' out",
            offset: start, param: field)
    }
}

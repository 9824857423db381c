/// What the engine reads from an upstream's OpenAI chat completion answer, or from one
/// streamed chunk (the JSON of an SSE `data:` line), found by scanning its bytes.
///
/// The whole body is validated as JSON; only the top-level `id`, `model` and `usage`, and
/// `choices[*].finish_reason`, are read (the first of repeated members counts). Values of
/// an unexpected type are treated as absent: an upstream's answer is relayed, not judged.
///
/// ```swift
/// let answer = try OpenAIAnswerScan.scan(body)
/// if let usage = answer.usage { record(usage.promptTokens, usage.completionTokens) }
/// ```
package struct OpenAIAnswerScan: Sendable, Hashable {
    /// Token counts from `usage`; a count that is not an integer is `nil`.
    package struct Usage: Sendable, Hashable {
        package var promptTokens: Int?
        package var completionTokens: Int?
        package var totalTokens: Int?
        /// `prompt_tokens_details.cached_tokens`.
        package var cachedTokens: Int? = nil
        /// `cache_creation_input_tokens`.
        package var cacheWriteTokens: Int? = nil
        /// One of these members holds something other than `null` or an integer (or the
        /// details are not an object): a reader that needs exact figures must decode.
        package var irregular = false

        package init(promptTokens: Int? = nil, completionTokens: Int? = nil, totalTokens: Int? = nil) {
            self.promptTokens = promptTokens
            self.completionTokens = completionTokens
            self.totalTokens = totalTokens
        }
    }

    /// `id` when it is a string.
    package var id: String?
    /// The bytes of the `id` value, quotes included.
    package var idValueRange: Range<Int>?
    /// `model` when it is a string.
    package var model: String?
    /// The bytes of the `model` value, quotes included.
    package var modelValueRange: Range<Int>?
    /// `usage` when it is an object; `nil` when absent, `null` (as in most chunks) or not an object.
    package var usage: Usage?
    /// Some element of `choices` has a `finish_reason` that is not `null`.
    package var hasFinishReason = false
    /// The `finish_reason` strings of `choices`, in order.
    package var finishReasons: [String] = []
    /// `choices` is an array.
    package var hasChoicesArray = false
    /// `object` when it is a string.
    package var object: String?
    /// `created` is an integer.
    package var hasCreated = false
    /// A top-level `error` member that is not `null` (an in-band error).
    package var hasError = false
    /// `usage` is neither an object nor `null`, one of its counts is not an integer, or a
    /// `finish_reason` is neither a string nor `null`: a reader that needs exact figures
    /// must decode the answer.
    package var irregular = false

    package init() {}

    /// Scans a whole (non-streamed) answer body.
    package static func scan(_ body: UnsafeRawBufferPointer) throws(OpenAIScanError) -> OpenAIAnswerScan {
        var cursor = JSONByteCursor(body)
        guard cursor.peekSignificant() == UInt8(ascii: "{") else {
            try cursor.skipValue()
            try cursor.expectEnd()
            throw OpenAIScanError(kind: .notAnObject, message: "the answer must be a JSON object", offset: 0)
        }
        var answer = OpenAIAnswerScan()
        var seenID = false
        var seenModel = false
        var seenUsage = false
        var seenChoices = false
        var seenObject = false
        var seenCreated = false
        var seenError = false
        var more = try cursor.openObject()
        while more {
            let key = try cursor.readKey()
            let start = cursor.position
            if !seenID, cursor.string(key, equals: "id") {
                seenID = true
                if let value = try readString(&cursor) {
                    answer.id = cursor.decode(value)
                    answer.idValueRange = start..<cursor.position
                }
            } else if !seenModel, cursor.string(key, equals: "model") {
                seenModel = true
                if let value = try readString(&cursor) {
                    answer.model = cursor.decode(value)
                    answer.modelValueRange = start..<cursor.position
                }
            } else if !seenUsage, cursor.string(key, equals: "usage") {
                seenUsage = true
                switch cursor.peekSignificant() {
                case UInt8(ascii: "{"), UInt8(ascii: "n"): break
                default: answer.irregular = true
                }
                answer.usage = try readUsage(&cursor)
                if answer.usage?.irregular == true { answer.irregular = true }
            } else if !seenChoices, cursor.string(key, equals: "choices") {
                seenChoices = true
                answer.hasChoicesArray = cursor.peekSignificant() == UInt8(ascii: "[")
                answer.finishReasons = try readChoices(
                    &cursor, finished: &answer.hasFinishReason, irregular: &answer.irregular)
            } else if !seenObject, cursor.string(key, equals: "object") {
                seenObject = true
                if let value = try readString(&cursor) { answer.object = cursor.decode(value) }
            } else if !seenCreated, cursor.string(key, equals: "created") {
                seenCreated = true
                answer.hasCreated = try readInteger(&cursor) != nil
            } else if !seenError, cursor.string(key, equals: "error") {
                seenError = true
                if cursor.peekSignificant() == UInt8(ascii: "n") {
                    try cursor.scanLiteral("null")
                } else {
                    try cursor.skipValue()
                    answer.hasError = true
                }
            } else {
                try cursor.skipValue()
            }
            more = try cursor.next(closing: UInt8(ascii: "}"))
        }
        try cursor.expectEnd()
        return answer
    }

    /// Scans a whole answer body held in an array.
    package static func scan(_ body: [UInt8]) throws(OpenAIScanError) -> OpenAIAnswerScan {
        try withTypedThrows(body) { buffer throws(OpenAIScanError) in try scan(buffer) }
    }

    /// Scans one streamed chunk: the JSON after `data:` on an SSE line (not `[DONE]`).
    ///
    /// The same reading as ``scan(_:)-(UnsafeRawBufferPointer)``; in a chunk, `usage` is
    /// usually `null` except in the last one, and ``hasFinishReason`` marks a choice's end.
    package static func scanChunk(_ payload: UnsafeRawBufferPointer) throws(OpenAIScanError) -> OpenAIAnswerScan {
        try scan(payload)
    }

    /// ``scanChunk(_:)-(UnsafeRawBufferPointer)`` over an array.
    package static func scanChunk(_ payload: [UInt8]) throws(OpenAIScanError) -> OpenAIAnswerScan {
        try scan(payload)
    }

    private static func readString(_ cursor: inout JSONByteCursor) throws(OpenAIScanError) -> ScannedJSONString? {
        guard cursor.peekSignificant() == UInt8(ascii: "\"") else {
            try cursor.skipValue()
            return nil
        }
        return try cursor.scanString()
    }

    private static func readUsage(_ cursor: inout JSONByteCursor) throws(OpenAIScanError) -> Usage? {
        guard cursor.peekSignificant() == UInt8(ascii: "{") else {
            try cursor.skipValue()
            return nil
        }
        var usage = Usage()
        var seen: UInt8 = 0
        var more = try cursor.openObject()
        while more {
            let key = try cursor.readKey()
            var slot: UInt8 = 0
            if cursor.string(key, equals: "prompt_tokens") {
                slot = 1
            } else if cursor.string(key, equals: "completion_tokens") {
                slot = 2
            } else if cursor.string(key, equals: "total_tokens") {
                slot = 4
            } else if cursor.string(key, equals: "cache_creation_input_tokens") {
                slot = 8
            } else if cursor.string(key, equals: "prompt_tokens_details") {
                slot = 16
            }
            if slot == 16, seen & slot == 0 {
                seen |= slot
                try readUsageDetails(&cursor, into: &usage)
            } else if slot != 0, seen & slot == 0 {
                seen |= slot
                let value = try readCount(&cursor, irregular: &usage.irregular)
                switch slot {
                case 1: usage.promptTokens = value
                case 2: usage.completionTokens = value
                case 4: usage.totalTokens = value
                default: usage.cacheWriteTokens = value
                }
            } else {
                try cursor.skipValue()
            }
            more = try cursor.next(closing: UInt8(ascii: "}"))
        }
        return usage
    }

    /// `prompt_tokens_details`: its `cached_tokens`.
    private static func readUsageDetails(_ cursor: inout JSONByteCursor, into usage: inout Usage)
        throws(OpenAIScanError)
    {
        switch cursor.peekSignificant() {
        case UInt8(ascii: "{"):
            var seen = false
            var more = try cursor.openObject()
            while more {
                let key = try cursor.readKey()
                if !seen, cursor.string(key, equals: "cached_tokens") {
                    seen = true
                    usage.cachedTokens = try readCount(&cursor, irregular: &usage.irregular)
                } else {
                    try cursor.skipValue()
                }
                more = try cursor.next(closing: UInt8(ascii: "}"))
            }
        case UInt8(ascii: "n"):
            try cursor.scanLiteral("null")
        default:
            try cursor.skipValue()
            usage.irregular = true
        }
    }

    /// A token count: an integer, or `null` (nil); anything else is nil and marks `irregular`.
    private static func readCount(_ cursor: inout JSONByteCursor, irregular: inout Bool) throws(OpenAIScanError)
        -> Int?
    {
        if cursor.peekSignificant() == UInt8(ascii: "n") {
            try cursor.scanLiteral("null")
            return nil
        }
        let value = try readInteger(&cursor)
        if value == nil { irregular = true }
        return value
    }

    /// An integer literal that fits `Int`; any other value is skipped as `nil`.
    private static func readInteger(_ cursor: inout JSONByteCursor) throws(OpenAIScanError) -> Int? {
        switch cursor.peekSignificant() {
        case .some(UInt8(ascii: "-")), .some(UInt8(ascii: "0")...UInt8(ascii: "9")):
            let number = try cursor.scanNumber()
            return number.isIntegerLiteral ? cursor.exactInteger(of: number) : nil
        default:
            try cursor.skipValue()
            return nil
        }
    }

    /// The choices' `finish_reason` strings; `finished`: some choice has a non-null one.
    private static func readChoices(_ cursor: inout JSONByteCursor, finished: inout Bool, irregular: inout Bool)
        throws(OpenAIScanError) -> [String]
    {
        guard cursor.peekSignificant() == UInt8(ascii: "[") else {
            try cursor.skipValue()
            return []
        }
        var reasons: [String] = []
        var more = try cursor.openArray()
        while more {
            if cursor.peekSignificant() == UInt8(ascii: "{") {
                var seenReason = false
                var choiceMore = try cursor.openObject()
                while choiceMore {
                    let key = try cursor.readKey()
                    if !seenReason, cursor.string(key, equals: "finish_reason") {
                        seenReason = true
                        switch cursor.peekSignificant() {
                        case UInt8(ascii: "n"):
                            try cursor.scanLiteral("null")
                        case UInt8(ascii: "\""):
                            reasons.append(cursor.decode(try cursor.scanString()))
                            finished = true
                        default:
                            try cursor.skipValue()
                            finished = true
                            irregular = true
                        }
                    } else {
                        try cursor.skipValue()
                    }
                    choiceMore = try cursor.next(closing: UInt8(ascii: "}"))
                }
            } else {
                try cursor.skipValue()
            }
            more = try cursor.next(closing: UInt8(ascii: "]"))
        }
        return reasons
    }
}

extension OpenAIAnswerScan {
    /// The chunk `JSONDecoder` decodes from `payload` (the JSON of one streamed chunk), built
    /// from a scan of its bytes, when the chunk is plain; `nil` otherwise: decode it then.
    ///
    /// Plain means: valid JSON; `id`, `object`, `model` strings, `created` an integer written
    /// as digits, `choices` an array of objects with such an integer `index`, a `delta` object
    /// (a string or `null` `role` and `content`, no `tool_calls` but `null`) and a string or
    /// `null` `finish_reason`; `usage` absent, `null` or counts written as digits; none of
    /// these members twice. Other members are skipped, as `JSONDecoder` skips them.
    package static func plainChunk(_ payload: UnsafeRawBufferPointer) -> ChatCompletionChunk? {
        var cursor = JSONByteCursor(payload)
        do throws(OpenAIScanError) {
            guard cursor.peekSignificant() == UInt8(ascii: "{") else { return nil }
            var id: String?
            var object: String?
            var created: Int?
            var model: String?
            var choices: [ChatCompletionChunk.Choice]?
            var usage: ModelMesh.Usage?
            try readPlainMembers(&cursor, chunkMembers) { member, cursor throws(OpenAIScanError) in
                switch member {
                case 0: id = try plainString(&cursor)
                case 1: object = try plainString(&cursor)
                case 2: created = try plainInteger(&cursor)
                case 3: model = try plainString(&cursor)
                case 4: choices = try plainChoices(&cursor)
                default: usage = try plainUsage(&cursor)
                }
            }
            try cursor.expectEnd()
            guard let id, let object, let created, let model, let choices else { return nil }
            return ChatCompletionChunk(
                id: id, object: object, created: created, model: model, choices: choices, usage: usage)
        } catch {
            // Invalid JSON, or not plain: the decoder reads it (and words what is wrong).
            return nil
        }
    }

    private static let chunkMembers: [StaticString] = ["id", "object", "created", "model", "choices", "usage"]
    private static let choiceMembers: [StaticString] = ["index", "delta", "finish_reason"]
    private static let deltaMembers: [StaticString] = ["role", "content", "tool_calls"]

    /// What ends a plain reading: a value `JSONDecoder` must read instead.
    private static func notPlain(_ cursor: JSONByteCursor) -> OpenAIScanError {
        OpenAIScanError(kind: .invalidField, message: "not a plain chunk", offset: cursor.position)
    }

    /// Walks an object, handing each member named in `names` to `read` (with its position in
    /// `names`) and skipping the others, as `JSONDecoder` does; a named member that repeats is
    /// not plain.
    private static func readPlainMembers(
        _ cursor: inout JSONByteCursor, _ names: [StaticString],
        _ read: (Int, inout JSONByteCursor) throws(OpenAIScanError) -> Void
    ) throws(OpenAIScanError) {
        guard cursor.peekSignificant() == UInt8(ascii: "{") else { throw notPlain(cursor) }
        var seen: UInt8 = 0
        try JSONByteCursor.readObject(&cursor) { key, cursor throws(OpenAIScanError) in
            guard let member = names.firstIndex(where: { cursor.string(key, equals: $0) }) else { return false }
            guard seen & (1 << member) == 0 else { throw notPlain(cursor) }
            seen |= 1 << member
            try read(member, &cursor)
            return true
        }
    }

    private static func plainString(_ cursor: inout JSONByteCursor) throws(OpenAIScanError) -> String {
        guard cursor.peekSignificant() == UInt8(ascii: "\"") else { throw notPlain(cursor) }
        return cursor.decode(try cursor.scanString())
    }

    /// A string, or `nil` for `null`.
    private static func plainOptionalString(_ cursor: inout JSONByteCursor) throws(OpenAIScanError) -> String? {
        guard cursor.peekSignificant() == UInt8(ascii: "n") else { return try plainString(&cursor) }
        try cursor.scanLiteral("null")
        return nil
    }

    /// An integer written as digits that fits `Int`.
    private static func plainInteger(_ cursor: inout JSONByteCursor) throws(OpenAIScanError) -> Int {
        switch cursor.peekSignificant() {
        case .some(UInt8(ascii: "-")), .some(UInt8(ascii: "0")...UInt8(ascii: "9")):
            let number = try cursor.scanNumber()
            guard number.isIntegerLiteral, let value = cursor.exactInteger(of: number) else { throw notPlain(cursor) }
            return value
        default:
            throw notPlain(cursor)
        }
    }

    /// `usage`: `null`, or counts written as digits (``readUsage(_:)`` reads them).
    private static func plainUsage(_ cursor: inout JSONByteCursor) throws(OpenAIScanError) -> ModelMesh.Usage? {
        if cursor.peekSignificant() == UInt8(ascii: "n") {
            try cursor.scanLiteral("null")
            return nil
        }
        guard cursor.peekSignificant() == UInt8(ascii: "{"), let counts = try readUsage(&cursor), !counts.irregular
        else { throw notPlain(cursor) }
        return ModelMesh.Usage(
            promptTokens: counts.promptTokens ?? 0, completionTokens: counts.completionTokens ?? 0,
            totalTokens: counts.totalTokens, cachedTokens: counts.cachedTokens,
            cacheWriteTokens: counts.cacheWriteTokens)
    }

    private static func plainChoices(_ cursor: inout JSONByteCursor) throws(OpenAIScanError)
        -> [ChatCompletionChunk.Choice]
    {
        guard cursor.peekSignificant() == UInt8(ascii: "[") else { throw notPlain(cursor) }
        var choices: [ChatCompletionChunk.Choice] = []
        var more = try cursor.openArray()
        while more {
            var index: Int?
            var delta: ChatCompletionChunk.Delta?
            var finishReason: String?
            try readPlainMembers(&cursor, choiceMembers) { member, cursor throws(OpenAIScanError) in
                switch member {
                case 0: index = try plainInteger(&cursor)
                case 1: delta = try plainDelta(&cursor)
                default: finishReason = try plainOptionalString(&cursor)
                }
            }
            guard let index, let delta else { throw notPlain(cursor) }
            choices.append(ChatCompletionChunk.Choice(index: index, delta: delta, finishReason: finishReason))
            more = try cursor.next(closing: UInt8(ascii: "]"))
        }
        return choices
    }

    private static func plainDelta(_ cursor: inout JSONByteCursor) throws(OpenAIScanError)
        -> ChatCompletionChunk.Delta
    {
        var delta = ChatCompletionChunk.Delta()
        try readPlainMembers(&cursor, deltaMembers) { member, cursor throws(OpenAIScanError) in
            switch member {
            case 0: delta.role = try plainOptionalString(&cursor)
            case 1: delta.content = try plainOptionalString(&cursor)
            default:
                // Tool calls are decoded; `null` is their absence.
                guard cursor.peekSignificant() == UInt8(ascii: "n") else { throw notPlain(cursor) }
                try cursor.scanLiteral("null")
            }
        }
        return delta
    }
}

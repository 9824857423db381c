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
                answer.usage = try readUsage(&cursor)
            } else if !seenChoices, cursor.string(key, equals: "choices") {
                seenChoices = true
                answer.hasFinishReason = try readChoices(&cursor)
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
            }
            if slot != 0, seen & slot == 0 {
                seen |= slot
                let value = try readInteger(&cursor)
                switch slot {
                case 1: usage.promptTokens = value
                case 2: usage.completionTokens = value
                default: usage.totalTokens = value
                }
            } else {
                try cursor.skipValue()
            }
            more = try cursor.next(closing: UInt8(ascii: "}"))
        }
        return usage
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

    /// Whether some choice has a non-null `finish_reason`.
    private static func readChoices(_ cursor: inout JSONByteCursor) throws(OpenAIScanError) -> Bool {
        guard cursor.peekSignificant() == UInt8(ascii: "[") else {
            try cursor.skipValue()
            return false
        }
        var finished = false
        var more = try cursor.openArray()
        while more {
            if cursor.peekSignificant() == UInt8(ascii: "{") {
                var seenReason = false
                var choiceMore = try cursor.openObject()
                while choiceMore {
                    let key = try cursor.readKey()
                    if !seenReason, cursor.string(key, equals: "finish_reason") {
                        seenReason = true
                        if cursor.peekSignificant() == UInt8(ascii: "n") {
                            try cursor.scanLiteral("null")
                        } else {
                            try cursor.skipValue()
                            finished = true
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
        return finished
    }
}

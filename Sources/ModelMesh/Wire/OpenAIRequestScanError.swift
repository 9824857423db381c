/// Why a request or answer body could not be scanned.
///
/// Thrown by ``OpenAIRequestScan/scan(_:)-(UnsafeRawBufferPointer)`` and
/// ``OpenAIAnswerScan``. The proxy renders it as a 400 whose `param` is ``param``.
package struct OpenAIScanError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem this is.
    package enum Kind: Sendable, Hashable {
        /// The body is not JSON (RFC 8259, UTF-8): a syntax error, invalid UTF-8 in a string,
        /// a number no `Double` can hold, nesting deeper than ``JSONByteCursor/maximumDepth``.
        case malformedJSON
        /// The body is JSON but its top-level value is not an object.
        case notAnObject
        /// The body is JSON but a field the engine interprets has the wrong type or value.
        case invalidField
    }

    /// What kind of problem this is.
    package var kind: Kind
    /// What is wrong, in one sentence.
    package var message: String
    /// The byte offset in the body where the problem was found.
    package var offset: Int
    /// The offending field as the OpenAI API names it (`max_tokens`, `messages[2].content`),
    /// when the problem is with one field.
    package var param: String?

    package init(kind: Kind, message: String, offset: Int, param: String? = nil) {
        self.kind = kind
        self.message = message
        self.offset = offset
        self.param = param
    }

    package var description: String {
        if let param { return "\(message) ('\(param)', at byte \(offset))" }
        return "\(message) (at byte \(offset))"
    }
}

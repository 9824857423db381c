/// What is wrong with one field of a request, found before anything is sent upstream.
///
/// ``ChatCompletionRequest/fieldIssue()`` returns the first one; the mesh throws it as a
/// ``ModelMeshError`` with code ``ModelMeshError/Code/invalidRequest``, and the proxy renders
/// it as a 400 whose `param` is ``param``.
public struct RequestFieldIssue: Sendable, Hashable, CustomStringConvertible {
    /// The offending field as the OpenAI API names it, e.g. `max_tokens` or `messages[2].role`.
    public var param: String
    /// What is wrong and what to send instead, in one sentence.
    public var message: String
    /// How to fix it, for callers that show hints apart from the message.
    public var hint: String

    public init(param: String, message: String, hint: String) {
        self.param = param
        self.message = message
        self.hint = hint
    }

    public var description: String { message }
}

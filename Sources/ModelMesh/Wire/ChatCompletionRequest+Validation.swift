extension ChatCompletionRequest {
    /// The message roles the engine and its providers understand; `function` is the legacy
    /// name of `tool`.
    public static let messageRoles: [String] = ["system", "developer", "user", "assistant", "tool", "function"]

    /// The largest output-token cap accepted: larger values fit no model and would
    /// overflow the engine's token arithmetic.
    public static let maxTokensLimit = Int(Int32.max)

    /// The first problem with a field the engine interprets, or `nil` when there is none.
    ///
    /// Checks the output-token caps (`max_tokens`, `max_completion_tokens`: 1 through
    /// ``maxTokensLimit``), `n` (an integer of at least 1), `temperature` (0...2), `top_p`
    /// (0...1), each message's `role` (one of ``messageRoles``) and that every `tool` message
    /// carries a `tool_call_id`. Members the engine does not interpret are not checked.
    ///
    /// ```swift
    /// if let issue = request.fieldIssue() { print(issue.param, issue.message) }
    /// ```
    public func fieldIssue() -> RequestFieldIssue? {
        if let issue = Self.tokenCapIssue(maxTokens, field: "max_tokens") { return issue }
        if let issue = Self.tokenCapIssue(maxCompletionTokens, field: "max_completion_tokens") { return issue }
        if let n = extra["n"], n != .null {
            if n.intValue.map({ $0 < 1 }) ?? true {
                return RequestFieldIssue(
                    param: "n",
                    message: "'n' must be a whole number of at least 1 (got \(Self.text(of: n))): "
                        + "send the number of choices to generate, or leave it out for one",
                    hint: "Send 'n' as a positive integer, or omit it")
            }
        }
        if let temperature, !(0...2).contains(temperature) {
            return RequestFieldIssue(
                param: "temperature",
                message: "'temperature' must be between 0 and 2 (got \(Self.text(of: temperature))): "
                    + "lower is more focused, higher more random",
                hint: "Send a temperature from 0 to 2, or omit it for the model's default")
        }
        if let topP, !(0...1).contains(topP) {
            return RequestFieldIssue(
                param: "top_p",
                message: "'top_p' must be between 0 and 1 (got \(Self.text(of: topP))): "
                    + "it is the share of probability mass to sample from",
                hint: "Send a top_p from 0 to 1, or omit it for the model's default")
        }
        for (index, message) in messages.enumerated() {
            if !Self.messageRoles.contains(message.role) {
                let roles = Self.messageRoles.dropLast().joined(separator: ", ")
                return RequestFieldIssue(
                    param: "messages[\(index)].role",
                    message: "'messages[\(index)].role' is '\(message.role)', which is not a message role: "
                        + "use one of \(roles)",
                    hint: "Set the role to one of \(roles)")
            }
            if message.role == "tool", message.toolCallID?.isEmpty ?? true {
                return RequestFieldIssue(
                    param: "messages[\(index)].tool_call_id",
                    message: "'messages[\(index)]' has role 'tool' but no 'tool_call_id': "
                        + "set it to the id of the assistant's tool call this message answers",
                    hint: "Copy the id from the assistant message's tool_calls[].id")
            }
        }
        return nil
    }

    static func tokenCapIssue(_ value: Int?, field: String) -> RequestFieldIssue? {
        guard let value, !(1...maxTokensLimit).contains(value) else { return nil }
        return RequestFieldIssue(
            param: field,
            message: "'\(field)' must be between 1 and \(maxTokensLimit) (got \(value)): "
                + "send the most output tokens the answer may use, or leave it out for the model's default",
            hint: "Send a positive '\(field)', or omit it")
    }

    static func text(of value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    static func text(of value: JSONValue) -> String {
        switch value {
        case .int(let i): String(i)
        case .double(let d): text(of: d)
        case .string(let s): "the string '\(s)'"
        case .bool(let b): String(b)
        case .null: "null"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

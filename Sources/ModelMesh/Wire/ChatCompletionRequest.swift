import Foundation

/// A chat completion request in the OpenAI shape.
///
/// The fields the engine interprets are typed; every other member of the JSON object
/// (`seed`, `logprobs`, vendor extensions, anything new) is kept in ``extra`` and sent
/// upstream unchanged.
public struct ChatCompletionRequest: Sendable, Hashable, Codable {
    /// A pool id, capability name or model id.
    public var model: String
    public var messages: [ChatMessage] { didSet { wireBody = nil } }
    public var stream: Bool?
    public var maxTokens: Int? { didSet { wireBody = nil } }
    public var maxCompletionTokens: Int? { didSet { wireBody = nil } }
    public var temperature: Double? { didSet { wireBody = nil } }
    public var topP: Double? { didSet { wireBody = nil } }
    public var stop: StopSequences? { didSet { wireBody = nil } }
    public var tools: [Tool]? { didSet { wireBody = nil } }
    public var toolChoice: JSONValue? { didSet { wireBody = nil } }
    public var responseFormat: JSONValue? { didSet { wireBody = nil } }
    public var streamOptions: JSONValue? { didSet { wireBody = nil } }
    /// Caller identity; also a session key for session-stickiness.
    public var user: String? { didSet { wireBody = nil } }
    /// Members the engine does not interpret, passed through unchanged.
    public var extra: [String: JSONValue] { didSet { wireBody = nil } }
    /// The body exactly as the client sent it, with its scan, while no field was changed
    /// since: the OpenAI-compatible connectors then send these bytes with only `model` (and
    /// `stream_options`) spliced in instead of encoding the request again. A change to any
    /// field but `model` and `stream` drops it: the connector writes the target's model
    /// itself, and uses the bytes only when their `stream` matches the call.
    package var wireBody: OpenAIWireBody?

    public init(
        model: String, messages: [ChatMessage], stream: Bool? = nil, maxTokens: Int? = nil,
        temperature: Double? = nil, topP: Double? = nil, stop: StopSequences? = nil, tools: [Tool]? = nil,
        toolChoice: JSONValue? = nil, responseFormat: JSONValue? = nil, user: String? = nil,
        extra: [String: JSONValue] = [:]
    ) {
        self.model = model
        self.messages = messages
        self.stream = stream
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topP = topP
        self.stop = stop
        self.tools = tools
        self.toolChoice = toolChoice
        self.responseFormat = responseFormat
        self.user = user
        self.extra = extra
    }

    /// The output-token cap the caller asked for, whichever field carried it.
    public var requestedMaxTokens: Int? { maxCompletionTokens ?? maxTokens }

    static let knownKeys: Set<String> = [
        "model", "messages", "stream", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop",
        "tools", "tool_choice", "response_format", "stream_options", "user",
    ]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyCodingKey.self)
        model = try c.decode(String.self, forKey: AnyCodingKey("model"))
        messages = try c.decode([ChatMessage].self, forKey: AnyCodingKey("messages"))
        stream = try c.decodeIfPresent(Bool.self, forKey: AnyCodingKey("stream"))
        maxTokens = try c.decodeTokenCap(forKey: AnyCodingKey("max_tokens"))
        maxCompletionTokens = try c.decodeTokenCap(forKey: AnyCodingKey("max_completion_tokens"))
        temperature = try c.decodeIfPresent(Double.self, forKey: AnyCodingKey("temperature"))
        topP = try c.decodeIfPresent(Double.self, forKey: AnyCodingKey("top_p"))
        stop = try c.decodeIfPresent(StopSequences.self, forKey: AnyCodingKey("stop"))
        tools = try c.decodeIfPresent([Tool].self, forKey: AnyCodingKey("tools"))
        toolChoice = try c.decodeIfPresent(JSONValue.self, forKey: AnyCodingKey("tool_choice"))
        responseFormat = try c.decodeIfPresent(JSONValue.self, forKey: AnyCodingKey("response_format"))
        streamOptions = try c.decodeIfPresent(JSONValue.self, forKey: AnyCodingKey("stream_options"))
        user = try c.decodeIfPresent(String.self, forKey: AnyCodingKey("user"))
        extra = try c.decodeUnknownMembers(excluding: Self.knownKeys)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: AnyCodingKey.self)
        try c.encode(model, forKey: AnyCodingKey("model"))
        try c.encode(messages, forKey: AnyCodingKey("messages"))
        try c.encodeIfPresent(stream, forKey: AnyCodingKey("stream"))
        try c.encodeIfPresent(maxTokens, forKey: AnyCodingKey("max_tokens"))
        try c.encodeIfPresent(maxCompletionTokens, forKey: AnyCodingKey("max_completion_tokens"))
        try c.encodeIfPresent(temperature, forKey: AnyCodingKey("temperature"))
        try c.encodeIfPresent(topP, forKey: AnyCodingKey("top_p"))
        try c.encodeIfPresent(stop, forKey: AnyCodingKey("stop"))
        try c.encodeIfPresent(tools, forKey: AnyCodingKey("tools"))
        try c.encodeIfPresent(toolChoice, forKey: AnyCodingKey("tool_choice"))
        try c.encodeIfPresent(responseFormat, forKey: AnyCodingKey("response_format"))
        try c.encodeIfPresent(streamOptions, forKey: AnyCodingKey("stream_options"))
        try c.encodeIfPresent(user, forKey: AnyCodingKey("user"))
        try c.encodeUnknownMembers(extra, excluding: Self.knownKeys)
    }
}

/// A request body as received and its scan (see ``ChatCompletionRequest/wireBody``).
///
/// It does not take part in the request's equality: two requests with the same fields are
/// the same request, whether or not one still carries its original bytes. A reference, so
/// that the copies of a request made along its route share it instead of copying the scan.
package final class OpenAIWireBody: Sendable, Hashable {
    package let bytes: [UInt8]
    package let scan: OpenAIRequestScan

    package init(bytes: [UInt8], scan: OpenAIRequestScan) {
        self.bytes = bytes
        self.scan = scan
    }

    package static func == (lhs: OpenAIWireBody, rhs: OpenAIWireBody) -> Bool { true }
    package func hash(into hasher: inout Hasher) {}
}

/// `stop`: one string or a list of strings.
public enum StopSequences: Sendable, Hashable, Codable {
    case one(String)
    case many([String])

    /// The sequences as a list.
    public var values: [String] {
        switch self {
        case .one(let s): [s]
        case .many(let list): list
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .one(s) } else { self = .many(try c.decode([String].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .one(let s): try c.encode(s)
        case .many(let list): try c.encode(list)
        }
    }
}

/// One message of a conversation.
public struct ChatMessage: Sendable, Hashable, Codable {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    public var role: String
    public var content: MessageContent?
    public var name: String?
    public var toolCalls: [ToolCall]?
    public var toolCallID: String?
    /// Members the engine does not interpret (e.g. `refusal`, `audio`), kept as they came.
    public var extra: [String: JSONValue]

    public init(
        role: String, content: MessageContent?, name: String? = nil, toolCalls: [ToolCall]? = nil,
        toolCallID: String? = nil, extra: [String: JSONValue] = [:]
    ) {
        self.role = role
        self.content = content
        self.name = name
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
        self.extra = extra
    }

    /// A message whose content is plain text.
    public static func system(_ text: String) -> ChatMessage { ChatMessage(role: "system", content: .text(text)) }
    public static func user(_ text: String) -> ChatMessage { ChatMessage(role: "user", content: .text(text)) }
    public static func assistant(_ text: String) -> ChatMessage {
        ChatMessage(role: "assistant", content: .text(text))
    }

    static let knownKeys: Set<String> = ["role", "content", "name", "tool_calls", "tool_call_id"]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyCodingKey.self)
        role = try c.decode(String.self, forKey: AnyCodingKey("role"))
        content = try c.decodeIfPresent(MessageContent.self, forKey: AnyCodingKey("content"))
        name = try c.decodeIfPresent(String.self, forKey: AnyCodingKey("name"))
        toolCalls = try c.decodeIfPresent([ToolCall].self, forKey: AnyCodingKey("tool_calls"))
        toolCallID = try c.decodeIfPresent(String.self, forKey: AnyCodingKey("tool_call_id"))
        extra = try c.decodeUnknownMembers(excluding: Self.knownKeys)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: AnyCodingKey.self)
        try c.encode(role, forKey: AnyCodingKey("role"))
        // An assistant message with tool calls carries `content: null` on the wire.
        if let content { try c.encode(content, forKey: AnyCodingKey("content")) } else {
            try c.encodeNil(forKey: AnyCodingKey("content"))
        }
        try c.encodeIfPresent(name, forKey: AnyCodingKey("name"))
        try c.encodeIfPresent(toolCalls, forKey: AnyCodingKey("tool_calls"))
        try c.encodeIfPresent(toolCallID, forKey: AnyCodingKey("tool_call_id"))
        try c.encodeUnknownMembers(extra, excluding: Self.knownKeys)
    }
}

/// Message content: plain text, or a list of parts (text, images, anything else).
public enum MessageContent: Sendable, Hashable, Codable {
    case text(String)
    case parts([ContentPart])

    /// All text in the content, parts joined without separator.
    public var text: String {
        switch self {
        case .text(let s): return s
        case .parts(let parts):
            return parts.compactMap { if case .text(let t) = $0 { t } else { nil } }.joined()
        }
    }

    /// Whether any part is an image.
    public var hasImage: Bool {
        if case .parts(let parts) = self {
            return parts.contains { if case .imageURL = $0 { true } else { false } }
        }
        return false
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .text(s) } else { self = .parts(try c.decode([ContentPart].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .text(let s): try c.encode(s)
        case .parts(let p): try c.encode(p)
        }
    }
}

/// One part of multi-part message content.
public enum ContentPart: Sendable, Hashable, Codable {
    case text(String)
    /// An image by URL (`https://...` or a `data:` URL), with the optional `detail` hint.
    case imageURL(url: String, detail: String?)
    /// Any other part type, kept as it came.
    case other(JSONValue)

    public init(from decoder: any Decoder) throws {
        let value = try JSONValue(from: decoder)
        switch value["type"]?.stringValue {
        case "text":
            if let text = value["text"]?.stringValue { self = .text(text); return }
        case "image_url":
            if let url = value["image_url"]?["url"]?.stringValue ?? value["image_url"]?.stringValue {
                self = .imageURL(url: url, detail: value["image_url"]?["detail"]?.stringValue)
                return
            }
        default: break
        }
        self = .other(value)
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .text(let t):
            try JSONValue.object(["type": "text", "text": .string(t)]).encode(to: encoder)
        case .imageURL(let url, let detail):
            var image: [String: JSONValue] = ["url": .string(url)]
            if let detail { image["detail"] = .string(detail) }
            try JSONValue.object(["type": "image_url", "image_url": .object(image)]).encode(to: encoder)
        case .other(let v):
            try v.encode(to: encoder)
        }
    }
}

/// A tool the model may call.
public struct Tool: Sendable, Hashable, Codable {
    public var type: String
    public var function: FunctionDefinition

    public init(type: String = "function", function: FunctionDefinition) {
        self.type = type
        self.function = function
    }

    public struct FunctionDefinition: Sendable, Hashable, Codable {
        public var name: String
        public var description: String?
        /// A JSON Schema object.
        public var parameters: JSONValue?
        public var strict: Bool?

        public init(name: String, description: String? = nil, parameters: JSONValue? = nil, strict: Bool? = nil) {
            self.name = name
            self.description = description
            self.parameters = parameters
            self.strict = strict
        }
    }
}

/// A tool call made by the assistant.
public struct ToolCall: Sendable, Hashable, Codable {
    /// Position of the call; present in streamed deltas only.
    public var index: Int?
    public var id: String?
    public var type: String?
    public var function: FunctionCall

    public init(index: Int? = nil, id: String?, type: String? = "function", function: FunctionCall) {
        self.index = index
        self.id = id
        self.type = type
        self.function = function
    }

    public struct FunctionCall: Sendable, Hashable, Codable {
        public var name: String?
        /// The arguments as a JSON text (possibly a fragment, in streamed deltas).
        public var arguments: String?

        public init(name: String?, arguments: String?) {
            self.name = name
            self.arguments = arguments
        }
    }
}

extension KeyedDecodingContainer where Key == AnyCodingKey {
    /// Decodes an output-token cap. A number that is no `Int` (`1e30`, `2.5`) is refused with
    /// a message saying what to send, rather than the parser's own wording.
    func decodeTokenCap(forKey key: AnyCodingKey) throws -> Int? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let value = try? decode(Int.self, forKey: key) { return value }
        guard let number = try? decode(Double.self, forKey: key) else {
            return try decode(Int.self, forKey: key)  // not a number: the type mismatch names the field
        }
        throw DecodingError.dataCorruptedError(
            forKey: key, in: self,
            debugDescription: "\(number) is not a whole number of tokens in range; send an integer from 1 to "
                + "\(ChatCompletionRequest.maxTokensLimit), or leave '\(key.stringValue)' out")
    }
}

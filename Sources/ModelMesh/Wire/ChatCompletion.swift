import Foundation

/// Token usage of one response.
public struct Usage: Sendable, Hashable, Codable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int
    /// Prompt tokens served from the provider's cache (priced as cached where known).
    public var cachedTokens: Int?
    /// Prompt tokens written to the provider's cache (Anthropic cache creation).
    public var cacheWriteTokens: Int?

    public init(promptTokens: Int, completionTokens: Int, totalTokens: Int? = nil, cachedTokens: Int? = nil,
        cacheWriteTokens: Int? = nil)
    {
        self.promptTokens = Self.count(promptTokens)
        self.completionTokens = Self.count(completionTokens)
        self.totalTokens = Self.count(totalTokens ?? (self.promptTokens + self.completionTokens))
        self.cachedTokens = cachedTokens.map(Self.count)
        self.cacheWriteTokens = cacheWriteTokens.map(Self.count)
    }

    /// A token count as reported, within 0...2^40: an upstream's figures are added up in
    /// counters, and none may overflow them.
    public static func count(_ value: Int) -> Int { Swift.min(Swift.max(value, 0), 1 << 40) }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens"
        case promptTokensDetails = "prompt_tokens_details"
        case cacheWriteTokens = "cache_creation_input_tokens"
    }

    enum DetailsKeys: String, CodingKey { case cachedTokens = "cached_tokens" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        promptTokens = Self.count(try c.decodeIfPresent(Int.self, forKey: .promptTokens) ?? 0)
        completionTokens = Self.count(try c.decodeIfPresent(Int.self, forKey: .completionTokens) ?? 0)
        totalTokens = Self.count(
            try c.decodeIfPresent(Int.self, forKey: .totalTokens) ?? (promptTokens + completionTokens))
        if let details = try? c.nestedContainer(keyedBy: DetailsKeys.self, forKey: .promptTokensDetails) {
            cachedTokens = try details.decodeIfPresent(Int.self, forKey: .cachedTokens).map(Self.count)
        }
        cacheWriteTokens = try c.decodeIfPresent(Int.self, forKey: .cacheWriteTokens).map(Self.count)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(promptTokens, forKey: .promptTokens)
        try c.encode(completionTokens, forKey: .completionTokens)
        try c.encode(totalTokens, forKey: .totalTokens)
        if let cachedTokens {
            var details = c.nestedContainer(keyedBy: DetailsKeys.self, forKey: .promptTokensDetails)
            try details.encode(cachedTokens, forKey: .cachedTokens)
        }
        try c.encodeIfPresent(cacheWriteTokens, forKey: .cacheWriteTokens)
    }
}

/// A complete chat completion in the OpenAI shape.
public struct ChatCompletion: Sendable, Hashable, Codable {
    public var id: String
    public var object: String
    public var created: Int
    public var model: String
    public var choices: [Choice]
    public var usage: Usage?
    public var systemFingerprint: String?

    public init(
        id: String, object: String = "chat.completion", created: Int = Int(Date().timeIntervalSince1970),
        model: String, choices: [Choice], usage: Usage? = nil, systemFingerprint: String? = nil
    ) {
        self.id = id
        self.object = object
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
        self.systemFingerprint = systemFingerprint
    }

    public struct Choice: Sendable, Hashable, Codable {
        public var index: Int
        public var message: ChatMessage
        /// `stop`, `length`, `tool_calls`, `content_filter`.
        public var finishReason: String?
        public var logprobs: JSONValue?

        public init(index: Int = 0, message: ChatMessage, finishReason: String?, logprobs: JSONValue? = nil) {
            self.index = index
            self.message = message
            self.finishReason = finishReason
            self.logprobs = logprobs
        }

        enum CodingKeys: String, CodingKey {
            case index, message, finishReason = "finish_reason", logprobs
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(message, forKey: .message)
            try c.encode(finishReason, forKey: .finishReason)
            try c.encode(logprobs, forKey: .logprobs)
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, object, created, model, choices, usage, systemFingerprint = "system_fingerprint"
    }

    /// The text of the first choice, or an empty string.
    public var text: String { choices.first?.message.content?.text ?? "" }
}

/// One chunk of a streamed chat completion (`object: chat.completion.chunk`).
public struct ChatCompletionChunk: Sendable, Hashable, Codable {
    public var id: String { didSet { if id != oldValue { wireBytes = nil } } }
    public var object: String { didSet { wireBytes = nil } }
    public var created: Int { didSet { wireBytes = nil } }
    public var model: String { didSet { wireBytes = nil } }
    public var choices: [Choice] { didSet { wireBytes = nil } }
    /// Present on the final usage chunk when `stream_options.include_usage` was requested.
    public var usage: Usage? { didSet { wireBytes = nil } }
    /// The chunk's JSON exactly as the upstream sent it (one line), while no field was
    /// changed since: the proxy relays these bytes instead of encoding the chunk again, so
    /// members it does not model (`logprobs`, `system_fingerprint`, …) reach the client.
    /// Setting `id` to the value it has keeps them. Not part of equality or coding.
    package var wireBytes: ChunkWireBytes?

    enum CodingKeys: String, CodingKey { case id, object, created, model, choices, usage }

    public init(
        id: String, object: String = "chat.completion.chunk", created: Int = Int(Date().timeIntervalSince1970),
        model: String, choices: [Choice], usage: Usage? = nil
    ) {
        self.id = id
        self.object = object
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
    }

    public struct Choice: Sendable, Hashable, Codable {
        public var index: Int
        public var delta: Delta
        public var finishReason: String?

        public init(index: Int = 0, delta: Delta, finishReason: String? = nil) {
            self.index = index
            self.delta = delta
            self.finishReason = finishReason
        }

        enum CodingKeys: String, CodingKey { case index, delta, finishReason = "finish_reason" }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(delta, forKey: .delta)
            try c.encode(finishReason, forKey: .finishReason)
        }
    }

    public struct Delta: Sendable, Hashable, Codable {
        public var role: String?
        public var content: String?
        public var toolCalls: [ToolCall]?

        public init(role: String? = nil, content: String? = nil, toolCalls: [ToolCall]? = nil) {
            self.role = role
            self.content = content
            self.toolCalls = toolCalls
        }

        enum CodingKeys: String, CodingKey { case role, content, toolCalls = "tool_calls" }
    }

    /// Whether the chunk carries anything a client would see (text, tool calls, a finish).
    public var carriesOutput: Bool {
        choices.contains { $0.delta.content?.isEmpty == false || $0.delta.toolCalls != nil || $0.finishReason != nil }
    }
}

/// A streamed chunk's bytes as received (see ``ChatCompletionChunk/wireBytes``); equal to
/// any other, so that a chunk's equality is that of its fields.
package struct ChunkWireBytes: Sendable, Hashable {
    package var bytes: [UInt8]

    package init(_ bytes: [UInt8]) { self.bytes = bytes }

    package static func == (lhs: Self, rhs: Self) -> Bool { true }
    package func hash(into hasher: inout Hasher) {}
}

/// An embeddings request in the OpenAI shape.
public struct EmbeddingRequest: Sendable, Hashable, Codable {
    public var model: String
    /// One string, a list of strings, or token arrays.
    public var input: EmbeddingInput
    public var encodingFormat: String?
    public var dimensions: Int?
    public var user: String?

    public init(model: String, input: EmbeddingInput, encodingFormat: String? = nil, dimensions: Int? = nil,
        user: String? = nil)
    {
        self.model = model
        self.input = input
        self.encodingFormat = encodingFormat
        self.dimensions = dimensions
        self.user = user
    }

    enum CodingKeys: String, CodingKey {
        case model, input, encodingFormat = "encoding_format", dimensions, user
    }
}

/// The `input` of an embeddings request.
public enum EmbeddingInput: Sendable, Hashable, Codable {
    case text(String)
    case texts([String])
    case tokens(JSONValue)

    /// The texts to embed (empty for token input).
    public var texts: [String] {
        switch self {
        case .text(let s): [s]
        case .texts(let list): list
        case .tokens: []
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            self = .text(s)
        } else if let list = try? c.decode([String].self) {
            self = .texts(list)
        } else {
            self = .tokens(try c.decode(JSONValue.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .text(let s): try c.encode(s)
        case .texts(let l): try c.encode(l)
        case .tokens(let v): try c.encode(v)
        }
    }
}

/// An embeddings response in the OpenAI shape.
public struct EmbeddingResponse: Sendable, Hashable, Codable {
    public var object: String
    public var data: [Embedding]
    public var model: String
    public var usage: Usage?

    public init(object: String = "list", data: [Embedding], model: String, usage: Usage? = nil) {
        self.object = object
        self.data = data
        self.model = model
        self.usage = usage
    }

    public struct Embedding: Sendable, Hashable, Codable {
        public var object: String
        public var index: Int
        public var embedding: [Double]

        public init(object: String = "embedding", index: Int, embedding: [Double]) {
            self.object = object
            self.index = index
            self.embedding = embedding
        }
    }
}

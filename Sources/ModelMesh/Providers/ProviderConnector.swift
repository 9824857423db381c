import Synchronization
import Foundation

/// A connection to one AI provider: the seam between the routing engine and a vendor's
/// wire format.
///
/// Implementations translate OpenAI-shaped requests to the vendor's API and back, and
/// report every failure as a ``ProviderError`` with its ``ProviderErrorClass`` so the router
/// can decide between retrying, rotating and returning the error.
public protocol ProviderConnector: Sendable {
    /// Sends a chat completion and waits for the whole answer.
    func complete(_ request: ChatCompletionRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderCompletion
    /// Starts a streamed chat completion. Returns once the upstream accepted the request
    /// (response head received); chunks then arrive through the stream.
    func stream(_ request: ChatCompletionRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderStream
    /// Computes embeddings.
    func embed(_ request: EmbeddingRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderEmbedding
    /// Lists the models the provider serves (for discovery).
    func listModels() async throws -> [ProviderModelInfo]
    /// A cheap liveness check of the provider.
    func healthCheck() async throws
    /// Releases connections; called at shutdown.
    func shutdown() async
    /// Whether the connector enforces ``AttemptContext/streamDeadlines`` itself, failing a
    /// silent stream with a `.timeout` ``ProviderError``.
    ///
    /// When it does, the router does not arm a timer of its own for every chunk; when it does
    /// not (the default), the router enforces the deadlines around the stream.
    var enforcesStreamDeadlines: Bool { get }
}

extension ProviderConnector {
    public func embed(_ request: EmbeddingRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderEmbedding
    {
        throw ProviderError(.invalidRequest, message: "Provider '\(target.providerID)' does not serve embeddings")
    }
    public func listModels() async throws -> [ProviderModelInfo] { [] }
    public func healthCheck() async throws {}
    public func shutdown() async {}
    public var enforcesStreamDeadlines: Bool { false }
}

/// How long a streamed answer may stay silent (``PoolConfiguration`` `stream` settings).
public struct StreamDeadlines: Sendable, Hashable {
    /// The longest wait for each chunk until one carries output (`first_token_timeout`),
    /// counted from the opening of the stream and then from each chunk.
    public var firstToken: Duration
    /// The longest silence between chunks once output began (`idle_timeout`).
    public var idle: Duration

    public init(firstToken: Duration, idle: Duration) {
        self.firstToken = firstToken
        self.idle = idle
    }
}

extension ProviderError {
    /// The error of a stream that stayed silent past `timeout`; `setting` names the deadline
    /// (`first_token_timeout` or `idle_timeout`).
    public static func streamSilent(for timeout: Duration, setting: String) -> ProviderError {
        ProviderError(.timeout, message: "The upstream sent nothing for \(timeout.seconds)s (\(setting))")
    }
}

/// The model an attempt is sent to.
public struct ModelTarget: Sendable, Hashable {
    /// The configured model id, e.g. `openai.gpt-4o`.
    public var modelID: String
    /// The name sent on the wire, e.g. `gpt-4o`.
    public var wireName: String
    /// The provider id.
    public var providerID: String

    public init(modelID: String, wireName: String, providerID: String) {
        self.modelID = modelID
        self.wireName = wireName
        self.providerID = providerID
    }
}

/// Per-attempt facts a connector needs.
public struct AttemptContext: Sendable {
    /// The request id, for upstream logs and headers.
    public var requestID: String
    /// The attempt must finish by this time (the smaller of the provider timeout and the
    /// request's overall deadline).
    public var deadline: Date
    /// 1-based attempt number on this model.
    public var attempt: Int
    /// The clock the engine runs on.
    public var clock: any MeshClock
    /// For streamed answers: how long the stream may stay silent. Connectors that declare
    /// ``ProviderConnector/enforcesStreamDeadlines`` apply them; `nil` for complete answers.
    public var streamDeadlines: StreamDeadlines?

    public init(
        requestID: String, deadline: Date, attempt: Int = 1, clock: any MeshClock = SystemClock(),
        streamDeadlines: StreamDeadlines? = nil
    ) {
        self.requestID = requestID
        self.deadline = deadline
        self.attempt = attempt
        self.clock = clock
        self.streamDeadlines = streamDeadlines
    }
}

/// A complete answer and what the upstream said about its rate limits.
public struct ProviderCompletion: Sendable {
    /// The answer. When the connector relayed the upstream's bytes (``body``) for the proxy,
    /// it is decoded from them on first use; the engine itself reads only ``usage``,
    /// ``responseModel`` and ``finishReasons``.
    public var completion: ChatCompletion {
        get { deferred.value }
        set {
            deferred = Deferred(newValue)
            summary = nil
        }
    }
    public var rateLimit: RateLimitStatus?
    /// The upstream's body exactly as received, when it already is the OpenAI JSON of
    /// `completion` (an OpenAI-compatible upstream whose answer was decoded unchanged).
    ///
    /// The proxy sends these bytes on instead of encoding `completion` again. Leave it `nil`
    /// whenever the answer was translated or repaired.
    public var body: Data?
    package private(set) var deferred: Deferred<ChatCompletion>
    /// What the engine reads, found without decoding (nil: read from `completion`).
    private var summary: Summary?

    /// What the engine reads from an answer.
    package struct Summary: Sendable {
        package var usage: Usage?
        package var model: String
        package var finishReasons: [String]

        package init(usage: Usage?, model: String, finishReasons: [String]) {
            self.usage = usage
            self.model = model
            self.finishReasons = finishReasons
        }
    }

    public init(completion: ChatCompletion, rateLimit: RateLimitStatus? = nil, body: Data? = nil) {
        self.deferred = Deferred(completion)
        self.rateLimit = rateLimit
        self.body = body
    }

    /// An answer relayed as `body`, read through `summary`; `decode` makes ``completion``
    /// when something asks for it.
    package init(
        relaying body: Data, summary: Summary, rateLimit: RateLimitStatus?,
        decode: @escaping @Sendable () -> ChatCompletion
    ) {
        self.deferred = Deferred(decode)
        self.rateLimit = rateLimit
        self.body = body
        self.summary = summary
    }

    package var usage: Usage? { summary.map(\.usage) ?? completion.usage }
    package var responseModel: String { summary?.model ?? completion.model }
    package var finishReasons: [String] { summary?.finishReasons ?? completion.choices.compactMap(\.finishReason) }
}

/// A value made at most once, when first asked for (or given at once).
package struct Deferred<Value: Sendable>: Sendable {
    private final class Box: Sendable {
        let cached: Mutex<Value?>
        let make: (@Sendable () -> Value)?

        init(value: Value?, make: (@Sendable () -> Value)?) {
            cached = Mutex(value)
            self.make = make
        }
    }

    private let box: Box

    package init(_ value: Value) { box = Box(value: value, make: nil) }
    package init(_ make: @escaping @Sendable () -> Value) { box = Box(value: nil, make: make) }

    package var value: Value {
        box.cached.withLock { cached in
            if let cached { return cached }
            // `make` is set whenever nothing is cached yet.
            let made = box.make!()
            cached = made
            return made
        }
    }
}

/// A stream of chunks. The stream finishes normally only after the upstream's end marker;
/// a cut stream finishes by throwing a ``ProviderError``.
public struct ProviderStream: Sendable {
    public var chunks: AsyncThrowingStream<ChatCompletionChunk, any Error>
    public var rateLimit: RateLimitStatus?

    public init(chunks: AsyncThrowingStream<ChatCompletionChunk, any Error>, rateLimit: RateLimitStatus? = nil) {
        self.chunks = chunks
        self.rateLimit = rateLimit
    }
}

/// Embeddings and the upstream's rate limits.
public struct ProviderEmbedding: Sendable {
    public var response: EmbeddingResponse
    public var rateLimit: RateLimitStatus?

    public init(response: EmbeddingResponse, rateLimit: RateLimitStatus? = nil) {
        self.response = response
        self.rateLimit = rateLimit
    }
}

/// What an upstream reported about its rate limits (`x-ratelimit-*` headers).
public struct RateLimitStatus: Sendable, Hashable, Codable {
    public var limitRequests: Int?
    public var remainingRequests: Int?
    public var limitTokens: Int?
    public var remainingTokens: Int?
    /// When the request window resets.
    public var resetRequestsAt: Date?
    /// When the token window resets.
    public var resetTokensAt: Date?

    public init(
        limitRequests: Int? = nil, remainingRequests: Int? = nil, limitTokens: Int? = nil,
        remainingTokens: Int? = nil, resetRequestsAt: Date? = nil, resetTokensAt: Date? = nil
    ) {
        self.limitRequests = limitRequests
        self.remainingRequests = remainingRequests
        self.limitTokens = limitTokens
        self.remainingTokens = remainingTokens
        self.resetRequestsAt = resetRequestsAt
        self.resetTokensAt = resetTokensAt
    }

    /// The smallest remaining fraction of any reported limit (1 when nothing is known).
    public var headroom: Double {
        var fractions: [Double] = []
        if let l = limitRequests, let r = remainingRequests, l > 0 { fractions.append(Double(r) / Double(l)) }
        if let l = limitTokens, let r = remainingTokens, l > 0 { fractions.append(Double(r) / Double(l)) }
        if fractions.isEmpty, remainingRequests == 0 || remainingTokens == 0 { return 0 }
        return max(0, fractions.min() ?? 1)
    }
}

/// A model as listed by a provider.
public struct ProviderModelInfo: Sendable, Hashable, Codable {
    public var id: String
    public var ownedBy: String?
    public var contextWindow: Int?

    public init(id: String, ownedBy: String? = nil, contextWindow: Int? = nil) {
        self.id = id
        self.ownedBy = ownedBy
        self.contextWindow = contextWindow
    }
}

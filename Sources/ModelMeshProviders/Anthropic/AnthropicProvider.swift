import Foundation
import ModelMesh
import NIOHTTP1

/// A connector for the Anthropic Messages API (`anthropic.claude.v1`, alias `anthropic.llm.v1`).
///
/// Requests are translated by ``AnthropicTranslator`` and sent to `POST {base}/v1/messages`
/// with `x-api-key` and `anthropic-version`; streams are read as server-sent events through
/// an ``AnthropicStreamTranslator`` and end normally on `message_stop`, or when the body ends
/// properly after `message_delta` reported a stop reason (a body that ends earlier fails
/// with `.streamInterrupted`). Failures are classified from Anthropic's error
/// bodies (`overloaded_error` 529 is a server error, `rate_limit_error` a rate limit with
/// its `retry-after`), and `anthropic-ratelimit-*` headers are reported as rate limits.
///
/// Provider settings:
/// - `anthropic_version`: the `anthropic-version` header (default `2023-06-01`).
/// - `max_tokens`: `max_tokens` when a request sets none (default 4096; Anthropic requires it).
/// - `anthropic_beta`: a string or list of strings sent as `anthropic-beta`.
///
/// ```swift
/// let transport = HTTPTransport()
/// let claude = try AnthropicProvider(
///     configuration: ProviderConfiguration(id: "anthropic", connector: "anthropic.claude.v1", apiKey: Secret(key)),
///     transport: transport)
/// ```
public final class AnthropicProvider: ProviderConnector, CustomReflectable {
    /// `anthropic.claude.v1`
    public static let connectorID = "anthropic.claude.v1"
    /// `anthropic.llm.v1`, accepted as a synonym.
    public static let aliasConnectorID = "anthropic.llm.v1"
    /// The API host used when the provider sets no `base_url`.
    public static let defaultBaseURL = "https://api.anthropic.com"
    /// The attempt timeout when the provider configures none.
    public static let defaultTimeout: Duration = .seconds(60)

    /// The provider id.
    public let id: String
    /// The API host, without a version path (`https://api.anthropic.com`).
    public let baseURL: String
    /// The `anthropic-version` header value.
    public let apiVersion: String
    /// `max_tokens` for requests that set none.
    public let defaultMaxTokens: Int
    /// Bounds one attempt (connect to last byte of a complete answer; the head of a stream).
    public let timeout: Duration
    /// The longest silence tolerated inside a streamed body.
    public let streamIdleTimeout: Duration

    private let transport: HTTPTransport
    private let apiKey: Secret?
    private let staticHeaders: HTTPHeaders
    private let redactions: [String]
    private let translator = AnthropicTranslator()
    private let invalidEvents = EventCounter()

    /// Creates the connector for `configuration`.
    ///
    /// - Parameters:
    ///   - configuration: The provider; `base_url` is the API host (default ``defaultBaseURL``).
    ///   - transport: The shared HTTP transport.
    ///   - streamIdleTimeout: The stall deadline inside streams (default: the provider timeout).
    /// - Throws: ``ProviderSetupError`` when `base_url` is malformed or a setting has the wrong type.
    public init(configuration: ProviderConfiguration, transport: HTTPTransport, streamIdleTimeout: Duration? = nil)
        throws
    {
        id = configuration.id
        self.transport = transport
        if let configured = configuration.baseURL.flatMap({ $0.isEmpty ? nil : $0 }) {
            baseURL = try APIHostURL.normalize(
                configured, providerID: configuration.id, versionSegments: ["v1"], example: Self.defaultBaseURL)
        } else {
            baseURL = Self.defaultBaseURL
        }
        let settings = configuration.settings
        apiVersion =
            try Self.stringSetting(settings, "anthropic_version", provider: id) ?? AnthropicTranslator.apiVersion
        if let value = settings["max_tokens"], value != .null {
            guard let maxTokens = value.intValue, maxTokens > 0 else {
                throw ProviderSetupError(
                    code: "invalid_setting", providerID: id, message: "max_tokens must be a positive integer",
                    hint: "Write for example max_tokens: 4096")
            }
            defaultMaxTokens = maxTokens
        } else {
            defaultMaxTokens = AnthropicTranslator.defaultMaxTokens
        }
        let timeout = configuration.timeout ?? Self.defaultTimeout
        self.timeout = timeout
        self.streamIdleTimeout = streamIdleTimeout ?? timeout
        apiKey = configuration.apiKey.flatMap { $0.isEmpty ? nil : $0 }

        var headers = HTTPHeaders()
        headers.add(name: "accept", value: "application/json")
        headers.add(name: "anthropic-version", value: apiVersion)
        switch settings["anthropic_beta"] {
        case .string(let beta)? where !beta.isEmpty:
            headers.add(name: "anthropic-beta", value: beta)
        case .array(let list)?:
            let names = list.compactMap(\.stringValue).filter { !$0.isEmpty }
            if !names.isEmpty { headers.add(name: "anthropic-beta", value: names.joined(separator: ",")) }
        default:
            break
        }
        var redactions = [apiKey?.value].compactMap { $0 }
        // Configured headers win (sorted: the order must not depend on hashing).
        for (name, value) in configuration.headers.sorted(by: { $0.key < $1.key }) {
            headers.replaceOrAdd(name: name, value: value.value)
            if value.value.count >= 8 { redactions.append(value.value) }
        }
        staticHeaders = headers
        self.redactions = redactions
    }

    /// A mirror without credentials: only the id, the connector and the endpoint.
    public var customMirror: Mirror {
        Mirror(self, children: ["id": id, "connector": Self.connectorID, "baseURL": baseURL], displayStyle: .class)
    }

    /// Events of streamed answers that could not be decoded and were skipped, since creation.
    public var invalidStreamEventCount: Int { invalidEvents.value }

    /// The stream's deadlines are enforced by the connection watchdog (no timer per chunk).
    public var enforcesStreamDeadlines: Bool { true }

    /// `https://api.anthropic.com/v1/messages`
    public var messagesURL: String { baseURL + AnthropicTranslator.messagesPath }
    /// `https://api.anthropic.com/v1/models`
    public var modelsURL: String { baseURL + "/v1/models" }

    // MARK: ProviderConnector

    public func complete(_ request: ChatCompletionRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderCompletion
    {
        let upstream = try makeRequest(request, target: target, stream: false, context: context)
        let response = try await transport.send(upstream, budget: context.budget(timeout: timeout))
        guard response.isSuccess else { throw upstream.redact(Self.error(for: response)) }
        do {
            let completion = try translator.response(response.bodyData, requestedModel: target.wireName)
            return ProviderCompletion(completion: completion, rateLimit: response.rateLimit)
        } catch var error as ProviderError {
            error.status = error.status ?? response.status
            error.rateLimit = error.rateLimit ?? response.rateLimit
            throw upstream.redact(error)
        }
    }

    public func stream(_ request: ChatCompletionRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderStream
    {
        var upstream = try makeRequest(request, target: target, stream: true, context: context)
        upstream.headers.replaceOrAdd(name: "accept", value: "text/event-stream")
        let stream = try await transport.openEventStream(
            upstream, headBudget: context.budget(timeout: timeout), idleTimeout: streamIdleTimeout,
            decoder: AnthropicEventDecoder(translator: AnthropicStreamTranslator(model: target.wireName)),
            deadlines: context.streamDeadlines, carriesOutput: \.carriesOutput,
            onInvalidEvent: { [self] _ in invalidEvents.increment() },
            failure: { Self.error(for: $0) })
        return ProviderStream(chunks: stream.elements, rateLimit: stream.rateLimit)
    }

    /// Anthropic has no embeddings endpoint: always throws `.invalidRequest`.
    public func embed(_ request: EmbeddingRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderEmbedding
    {
        throw ProviderError(
            .invalidRequest,
            message:
                "Provider '\(id)' (Anthropic) does not serve embeddings; route embeddings to an embedding-capable pool")
    }

    /// The models of `GET /v1/models`, every page.
    public func listModels() async throws -> [ProviderModelInfo] {
        var models: [ProviderModelInfo] = []
        var after: String?
        // Bounded: a server that always says `has_more` must not loop forever.
        for _ in 0..<50 {
            var query = "?limit=1000"
            if let after { query += "&after_id=" + QueryString.escaped(after) }
            let response = try await get(modelsURL + query)
            guard let value = WireJSON.parse(response.bodyData), let data = value["data"]?.arrayValue else {
                throw ProviderError(
                    .serverError, status: response.status, message: "The Anthropic model list could not be decoded")
            }
            models += data.compactMap { entry in
                entry["id"]?.stringValue.map { ProviderModelInfo(id: $0, ownedBy: "anthropic") }
            }
            guard value["has_more"]?.boolValue == true, let last = value["last_id"]?.stringValue, last != after else {
                break
            }
            after = last
        }
        return models
    }

    /// Lists one model: proves the host answers and the key is accepted.
    public func healthCheck() async throws {
        _ = try await get(modelsURL + "?limit=1")
    }

    /// Nothing to release: the transport is shared and shut down by its owner.
    public func shutdown() async {}

    // MARK: Internals

    /// The classified error of a failed response: the vendor body decides the class; the
    /// transport's `Retry-After` (which also reads `retry-after-ms`) and rate limits fill in.
    static func error(for response: UpstreamResponse) -> ProviderError {
        var error = AnthropicTranslator.error(
            status: response.status, headers: response.headers.map { ($0.name, $0.value) }, body: response.bodyData)
        error.status = response.status
        error.retryAfter = response.retryAfter ?? error.retryAfter
        error.rateLimit = error.rateLimit ?? response.rateLimit
        return error
    }

    private func makeRequest(
        _ request: ChatCompletionRequest, target: ModelTarget, stream: Bool, context: AttemptContext
    ) throws -> UpstreamRequest {
        let body = try translator.request(
            Self.trimmingPrefill(request), model: target.wireName, stream: stream, defaultMaxTokens: defaultMaxTokens)
        var upstream = UpstreamRequest(
            method: .POST, url: messagesURL, headers: authorizedHeaders(), body: .init(bytes: body),
            redactions: redactions, rateLimitHeaders: .anthropic, clock: context.clock)
        upstream.headers.replaceOrAdd(name: "content-type", value: "application/json")
        return upstream
    }

    private func authorizedHeaders() -> HTTPHeaders {
        var headers = staticHeaders
        if let apiKey, !headers.contains(name: "x-api-key") { headers.add(name: "x-api-key", value: apiKey.value) }
        return headers
    }

    private func get(_ url: String) async throws -> UpstreamResponse {
        let upstream = UpstreamRequest(
            method: .GET, url: url, headers: authorizedHeaders(), redactions: redactions,
            rateLimitHeaders: .anthropic)
        let response = try await transport.send(upstream, budget: timeout)
        guard response.isSuccess else { throw upstream.redact(Self.error(for: response)) }
        return response
    }

    /// Anthropic rejects a final assistant turn (a prefill) that ends in whitespace, and a
    /// resumed stream's prefill often does ("Hello, "); the model continues fine without it.
    static func trimmingPrefill(_ request: ChatCompletionRequest) -> ChatCompletionRequest {
        guard let last = request.messages.last, last.role == "assistant", last.toolCalls?.isEmpty ?? true,
            case .text(let text)? = last.content
        else { return request }
        var trimmed = text
        while let character = trimmed.last, character.isWhitespace { trimmed.removeLast() }
        guard trimmed.count != text.count else { return request }
        var copy = request
        copy.messages[copy.messages.count - 1].content = .text(trimmed)
        return copy
    }

    private static func stringSetting(_ settings: [String: JSONValue], _ key: String, provider: String) throws
        -> String?
    {
        guard let value = settings[key], value != .null else { return nil }
        guard let text = value.stringValue, !text.isEmpty else {
            throw ProviderSetupError(
                code: "invalid_setting", providerID: provider, message: "\(key) must be a non-empty string",
                hint: "Write for example \(key): \"2023-06-01\"")
        }
        return text
    }

}

/// Feeds the Messages API event stream through an ``AnthropicStreamTranslator``:
/// `message_stop` is the end marker, an `error` event fails the stream with its class, and
/// an event whose data cannot be read is skipped and counted. A body that ends properly
/// after `message_delta` reported a stop reason is complete too (see
/// ``AnthropicStreamTranslator/endOfBody()``); one that ends earlier, or a broken connection,
/// is truncated.
struct AnthropicEventDecoder: SSEEventDecoder {
    var translator: AnthropicStreamTranslator

    mutating func decode(_ event: SSEEvent) throws -> SSEDecodeStep<ChatCompletionChunk> {
        // An unnamed event (or the default type `message`) is named by its data's `type`.
        let name = event.event.flatMap { $0 == "message" ? nil : $0 } ?? ""
        let chunks: [ChatCompletionChunk]
        do {
            chunks = try translator.consume(event: name, data: event.data)
        } catch {
            if event.event == "error" || WireJSON.parse(Data(event.data.utf8))?["type"] == "error" { throw error }
            return .invalid
        }
        if translator.isComplete { return .end(chunks) }
        return chunks.isEmpty ? .skip : .emit(chunks)
    }

    mutating func bodyEnded() throws -> [ChatCompletionChunk] {
        guard let chunks = translator.endOfBody() else {
            throw ProviderError(
                .streamInterrupted, message: "The Anthropic stream ended before message_delta reported a stop_reason")
        }
        return chunks
    }
}

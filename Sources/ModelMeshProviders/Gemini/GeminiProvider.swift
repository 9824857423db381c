import Foundation
import ModelMesh
import NIOHTTP1

/// A connector for the Google Gemini API (`google.gemini.v1`, `generativelanguage.googleapis.com`, `v1beta`).
///
/// Chat completions go to `models/<name>:generateContent`, streams to
/// `models/<name>:streamGenerateContent?alt=sse`, embeddings to `:embedContent` (one text) or
/// `:batchEmbedContents` (a list). Translation is ``GeminiTranslator``'s; a stream is complete
/// only when a candidate's `finishReason` was seen, so a body that ends without one fails
/// with `.streamInterrupted`. Errors are classified from Google's error bodies
/// (`RESOURCE_EXHAUSTED` with `RetryInfo` is a rate limit with its delay, an invalid key is an
/// authentication failure); a safety block is a `.contentPolicy` error.
///
/// The API key travels in the `key` query parameter. It is scrubbed from every error message,
/// log line and description the connector produces.
///
/// Provider settings:
/// - `safety_settings`: sent unchanged as `safetySettings` (a list of `{category, threshold}`).
/// - `max_tokens`: `maxOutputTokens` when a request sets none (default: Gemini's own).
///
/// ```swift
/// let gemini = try GeminiProvider(
///     configuration: ProviderConfiguration(id: "google", connector: "google.gemini.v1", apiKey: Secret(key)),
///     transport: transport)
/// ```
public final class GeminiProvider: ProviderConnector, CustomReflectable {
    /// `google.gemini.v1`
    public static let connectorID = "google.gemini.v1"
    /// The API host used when the provider sets no `base_url`.
    public static let defaultBaseURL = "https://generativelanguage.googleapis.com"
    /// The attempt timeout when the provider configures none.
    public static let defaultTimeout: Duration = .seconds(60)

    /// The provider id.
    public let id: String
    /// The API host, without a version path.
    public let baseURL: String
    /// `maxOutputTokens` for requests that set none (`nil`: Gemini's default).
    public let defaultMaxTokens: Int?
    /// The `safety_settings` sent with every generation request.
    public let safetySettings: JSONValue?
    /// Bounds one attempt (connect to last byte of a complete answer; the head of a stream).
    public let timeout: Duration
    /// The longest silence tolerated inside a streamed body.
    public let streamIdleTimeout: Duration

    private let transport: HTTPTransport
    private let apiKey: Secret?
    private let staticHeaders: HTTPHeaders
    private let redactions: [String]
    private let translator = GeminiTranslator()
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
                configured, providerID: configuration.id, versionSegments: ["v1beta", "v1"],
                example: Self.defaultBaseURL)
        } else {
            baseURL = Self.defaultBaseURL
        }
        let settings = configuration.settings
        if let value = settings["max_tokens"], value != .null {
            guard let maxTokens = value.intValue, maxTokens > 0 else {
                throw ProviderSetupError(
                    code: "invalid_setting", providerID: id, message: "max_tokens must be a positive integer",
                    hint: "Write for example max_tokens: 8192")
            }
            defaultMaxTokens = maxTokens
        } else {
            defaultMaxTokens = nil
        }
        switch settings["safety_settings"] {
        case nil, .null?:
            safetySettings = nil
        case .array(let list)? where list.allSatisfy({ $0.objectValue != nil }):
            safetySettings = .array(list)
        default:
            throw ProviderSetupError(
                code: "invalid_setting", providerID: id, message: "safety_settings must be a list of objects",
                hint: "Write for example safety_settings: [{category: HARM_CATEGORY_HARASSMENT, threshold: BLOCK_NONE}]"
            )
        }
        let timeout = configuration.timeout ?? Self.defaultTimeout
        self.timeout = timeout
        self.streamIdleTimeout = streamIdleTimeout ?? timeout
        apiKey = configuration.apiKey.flatMap { $0.isEmpty ? nil : $0 }

        var headers = HTTPHeaders()
        headers.add(name: "accept", value: "application/json")
        var redactions: [String] = []
        if let apiKey {
            redactions.append(apiKey.value)
            let escaped = QueryString.escaped(apiKey.value)
            if escaped != apiKey.value { redactions.append(escaped) }
        }
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

    // MARK: ProviderConnector

    public func complete(_ request: ChatCompletionRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderCompletion
    {
        let body = try translator.request(request, defaultMaxTokens: defaultMaxTokens, safetySettings: safetySettings)
        let upstream = makeRequest(
            path: GeminiTranslator.generatePath(model: target.wireName, stream: false), body: body, context: context)
        let response = try await transport.send(upstream, budget: context.budget(timeout: timeout))
        guard response.isSuccess else { throw upstream.redact(Self.error(for: response)) }
        do {
            let completion = try translator.response(response.bodyData, requestedModel: target.wireName)
            return ProviderCompletion(completion: completion, rateLimit: response.rateLimit)
        } catch var error as ProviderError {
            // A safety block arrives in a 200 answer, but it is a refusal, not a success: it
            // must not carry the 2xx status, which would be reported as the failure's status.
            if error.errorClass != .contentPolicy { error.status = error.status ?? response.status }
            throw upstream.redact(error)
        }
    }

    public func stream(_ request: ChatCompletionRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderStream
    {
        let body = try translator.request(request, defaultMaxTokens: defaultMaxTokens, safetySettings: safetySettings)
        var upstream = makeRequest(
            path: GeminiTranslator.generatePath(model: target.wireName, stream: true), body: body, context: context)
        upstream.headers.replaceOrAdd(name: "accept", value: "text/event-stream")
        let stream = try await transport.openEventStream(
            upstream, headBudget: context.budget(timeout: timeout), idleTimeout: streamIdleTimeout,
            decoder: GeminiEventDecoder(translator: GeminiStreamTranslator(model: target.wireName)),
            deadlines: context.streamDeadlines, carriesOutput: \.carriesOutput,
            onInvalidEvent: { [self] _ in invalidEvents.increment() },
            failure: { Self.error(for: $0) })
        return ProviderStream(chunks: stream.elements, rateLimit: stream.rateLimit)
    }

    public func embed(_ request: EmbeddingRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderEmbedding
    {
        let call = try translator.embeddingRequest(request, model: target.wireName)
        let upstream = makeRequest(path: call.path, body: call.body, context: context)
        let response = try await transport.send(upstream, budget: context.budget(timeout: timeout))
        guard response.isSuccess else { throw upstream.redact(Self.error(for: response)) }
        do {
            let embeddings = try translator.embeddingResponse(response.bodyData, requestedModel: target.wireName)
            return ProviderEmbedding(response: embeddings, rateLimit: response.rateLimit)
        } catch var error as ProviderError {
            error.status = error.status ?? response.status
            throw upstream.redact(error)
        }
    }

    /// The models of `GET /v1beta/models`, every page; ids without the `models/` prefix,
    /// context windows from `inputTokenLimit`.
    public func listModels() async throws -> [ProviderModelInfo] {
        var models: [ProviderModelInfo] = []
        var pageToken: String?
        // Bounded: a server that always returns a page token must not loop forever.
        for _ in 0..<50 {
            var query = ["pageSize=1000"]
            if let pageToken { query.append("pageToken=" + QueryString.escaped(pageToken)) }
            let response = try await get("/v1beta/models", query: query)
            guard let value = WireJSON.parse(response.bodyData), value.objectValue != nil else {
                throw ProviderError(
                    .serverError, status: response.status, message: "The Gemini model list could not be decoded")
            }
            models += (value["models"]?.arrayValue ?? []).compactMap { entry in
                guard let name = entry["name"]?.stringValue else { return nil }
                let id = name.hasPrefix("models/") ? String(name.dropFirst("models/".count)) : name
                return ProviderModelInfo(id: id, ownedBy: "google", contextWindow: entry["inputTokenLimit"]?.intValue)
            }
            guard let next = value["nextPageToken"]?.stringValue, !next.isEmpty, next != pageToken else { break }
            pageToken = next
        }
        return models
    }

    /// Lists one model: proves the host answers and the key is accepted.
    public func healthCheck() async throws {
        _ = try await get("/v1beta/models", query: ["pageSize=1"])
    }

    /// Nothing to release: the transport is shared and shut down by its owner.
    public func shutdown() async {}

    // MARK: Internals

    /// The classified error of a failed response; the transport's `Retry-After` (which also
    /// reads `retry-after-ms`) wins over a `RetryInfo` delay.
    static func error(for response: UpstreamResponse) -> ProviderError {
        var error = GeminiTranslator.error(
            status: response.status, headers: response.headers.map { ($0.name, $0.value) }, body: response.bodyData)
        error.status = response.status
        error.retryAfter = response.retryAfter ?? error.retryAfter
        error.rateLimit = error.rateLimit ?? response.rateLimit
        return error
    }

    /// `base + path`, with the key appended to the query.
    private func url(_ path: String, query: [String] = []) -> String {
        var parameters = query
        if let apiKey { parameters.append("key=" + QueryString.escaped(apiKey.value)) }
        guard !parameters.isEmpty else { return baseURL + path }
        return baseURL + path + (path.contains("?") ? "&" : "?") + parameters.joined(separator: "&")
    }

    private func makeRequest(path: String, body: Data, context: AttemptContext) -> UpstreamRequest {
        var headers = staticHeaders
        headers.replaceOrAdd(name: "content-type", value: "application/json")
        return UpstreamRequest(
            method: .POST, url: url(path), headers: headers, body: .init(bytes: body), redactions: redactions,
            clock: context.clock)
    }

    private func get(_ path: String, query: [String]) async throws -> UpstreamResponse {
        let upstream = UpstreamRequest(
            method: .GET, url: url(path, query: query), headers: staticHeaders, redactions: redactions)
        let response = try await transport.send(upstream, budget: timeout)
        guard response.isSuccess else { throw upstream.redact(Self.error(for: response)) }
        return response
    }

}

/// Feeds `streamGenerateContent?alt=sse` payloads through a ``GeminiStreamTranslator``.
///
/// Gemini has no end marker: the body ending is the end, and it is a complete answer only
/// when a `finishReason` was seen. A payload that is not JSON is skipped and counted; an
/// embedded error or a safety block fails the stream.
struct GeminiEventDecoder: SSEEventDecoder {
    var translator: GeminiStreamTranslator

    mutating func decode(_ event: SSEEvent) throws -> SSEDecodeStep<ChatCompletionChunk> {
        let chunks: [ChatCompletionChunk]
        do {
            chunks = try translator.consume(data: event.data)
        } catch {
            if WireJSON.parse(Data(event.data.utf8)) == nil { return .invalid }
            throw error
        }
        return chunks.isEmpty ? .skip : .emit(chunks)
    }

    mutating func bodyEnded() throws -> [ChatCompletionChunk] {
        guard translator.sawFinishReason else {
            throw ProviderError(
                .streamInterrupted, message: "The Gemini stream ended before a candidate reported its finishReason")
        }
        return []
    }
}

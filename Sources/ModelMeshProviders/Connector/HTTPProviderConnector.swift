import Foundation
import ModelMesh
import NIOCore
import NIOHTTP1

/// The HTTP side every built-in connector shares, over a vendor's ``VendorDialect``.
///
/// It owns what must not differ between vendors: the transport and its deadlines (the
/// attempt budget, the stall deadline inside streams), the request headers (`accept`, the
/// dialect's headers, the provider's configured headers, the API key where the dialect puts
/// it, `x-request-id` with the request's id), secrets scrubbed from every error, and the
/// rate limits of each answer. ``OpenAICompatibleProvider``, ``AnthropicProvider`` and
/// ``GeminiProvider`` are this connector over their dialects.
final class HTTPProviderConnector<Dialect: VendorDialect>: ProviderConnector {
    /// The provider id.
    let id: String
    let dialect: Dialect
    /// Bounds one attempt (connect to last byte of a complete answer; the head of a stream).
    let timeout: Duration
    /// The longest silence tolerated inside a streamed body.
    let streamIdleTimeout: Duration

    private let transport: HTTPTransport
    private let apiKey: Secret?
    private let staticHeaders: HTTPHeaders
    private let redactions: [String]
    private let invalidEvents = EventCounter()

    /// The connector of `configuration` speaking `dialect`.
    ///
    /// - Parameters:
    ///   - defaultTimeout: The attempt timeout when the provider configures none.
    ///   - streamIdleTimeout: The stall deadline inside streams (default: the attempt timeout).
    init(
        configuration: ProviderConfiguration, dialect: Dialect, transport: HTTPTransport, defaultTimeout: Duration,
        streamIdleTimeout: Duration?
    ) {
        id = configuration.id
        self.dialect = dialect
        self.transport = transport
        let timeout = configuration.timeout ?? defaultTimeout
        self.timeout = timeout
        self.streamIdleTimeout = streamIdleTimeout ?? timeout
        let apiKey = configuration.apiKey.flatMap { $0.isEmpty ? nil : $0 }
        self.apiKey = apiKey

        var headers = HTTPHeaders()
        headers.add(name: "accept", value: "application/json")
        headers.add(contentsOf: dialect.vendorHeaders)
        var redactions: [String] = []
        if let apiKey {
            redactions.append(apiKey.value)
            if case .query = dialect.apiKeyPlacement {
                let escaped = QueryString.escaped(apiKey.value)
                if escaped != apiKey.value { redactions.append(escaped) }
            }
        }
        // Configured headers win (sorted: the order must not depend on hashing). Values long
        // enough to be credentials are scrubbed like the key.
        for (name, value) in configuration.headers.sorted(by: { $0.key < $1.key }) {
            headers.replaceOrAdd(name: name, value: value.value)
            if value.value.count >= 8 { redactions.append(value.value) }
        }
        staticHeaders = headers
        self.redactions = redactions
    }

    /// Events of streamed answers that could not be decoded and were skipped, since creation.
    var invalidStreamEventCount: Int { invalidEvents.value }

    /// The stream's deadlines are enforced by the connection watchdog (no timer per chunk).
    var enforcesStreamDeadlines: Bool { true }

    // MARK: ProviderConnector

    func complete(_ request: ChatCompletionRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderCompletion
    {
        let upstream = try makeRequest(dialect.completionCall(request, target: target), context: context)
        let response = try await transport.send(upstream, budget: context.budget(timeout: timeout))
        guard response.isSuccess else { throw upstream.redact(dialect.error(for: response)) }
        do {
            // A request that came as bytes goes back as bytes: the proxy relays the answer.
            if request.wireBody != nil { return try dialect.relayedCompletion(from: response, target: target) }
            return try dialect.completion(from: response, target: target)
        } catch let error as ProviderError {
            throw upstream.redact(Self.failure(error, in: response))
        }
    }

    func stream(_ request: ChatCompletionRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderStream
    {
        var upstream = try makeRequest(dialect.streamCall(request, target: target), context: context)
        upstream.headers.replaceOrAdd(name: "accept", value: "text/event-stream")
        let dialect = dialect
        let stream = try await transport.openEventStream(
            upstream, headBudget: context.budget(timeout: timeout), idleTimeout: streamIdleTimeout,
            decoder: request.wireBody != nil
                ? dialect.relayingStreamDecoder(target: target) : dialect.streamDecoder(target: target),
            deadlines: context.streamDeadlines,
            carriesOutput: \.carriesOutput, onInvalidEvent: { [invalidEvents] _ in invalidEvents.increment() },
            failure: { dialect.error(for: $0) })
        return ProviderStream(chunks: stream.elements, rateLimit: stream.rateLimit)
    }

    func embed(_ request: EmbeddingRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderEmbedding
    {
        let upstream = try makeRequest(dialect.embeddingsCall(request, target: target), context: context)
        let response = try await transport.send(upstream, budget: context.budget(timeout: timeout))
        guard response.isSuccess else { throw upstream.redact(dialect.error(for: response)) }
        do {
            return ProviderEmbedding(
                response: try dialect.embeddings(from: response, target: target), rateLimit: response.rateLimit)
        } catch let error as ProviderError {
            throw upstream.redact(Self.failure(error, in: response))
        }
    }

    /// Every page of the model list.
    func listModels() async throws -> [ProviderModelInfo] {
        var models: [ProviderModelInfo] = []
        var cursor: String?
        // Bounded: a server that always announces another page must not loop forever.
        for _ in 0..<50 {
            let page = try await get(dialect.modelListCall(cursor: cursor)) { try dialect.modelListPage(from: $0) }
            models += page.models
            guard let next = page.next, next != cursor else { break }
            cursor = next
        }
        return models
    }

    func healthCheck() async throws {
        try await get(dialect.healthCheckCall()) { _ in }
    }

    /// Nothing to release: the transport is shared and shut down by its owner.
    func shutdown() async {}

    // MARK: Requests

    /// The request of `call`: the base URL, the key, and the headers; `context` is the
    /// attempt it belongs to, if any.
    private func makeRequest(_ call: DialectCall, context: AttemptContext?) -> UpstreamRequest {
        var headers = staticHeaders
        var query = call.query
        if let apiKey {
            switch dialect.apiKeyPlacement {
            case .header(let name, let prefix):
                if !headers.contains(name: name) { headers.add(name: name, value: prefix + apiKey.value) }
            case .query(let name):
                query.append(name + "=" + QueryString.escaped(apiKey.value))
            }
        }
        if let requestID = context?.requestID, !requestID.isEmpty {
            headers.replaceOrAdd(name: "x-request-id", value: requestID)
        }
        if call.body != nil { headers.replaceOrAdd(name: "content-type", value: "application/json") }
        var url = dialect.baseURL + call.path
        if !query.isEmpty { url += (call.path.contains("?") ? "&" : "?") + query.joined(separator: "&") }
        return UpstreamRequest(
            method: call.method, url: url, headers: headers, body: call.body.map { ByteBuffer(bytes: $0) },
            redactions: redactions, rateLimitHeaders: dialect.rateLimitHeaders, clock: context?.clock ?? SystemClock())
    }

    /// Sends a call that belongs to no request (model list, health check) and reads its answer.
    private func get<T>(_ call: DialectCall, _ read: (UpstreamResponse) throws -> T) async throws -> T {
        let upstream = makeRequest(call, context: nil)
        let response = try await transport.send(upstream, budget: timeout)
        guard response.isSuccess else { throw upstream.redact(dialect.error(for: response)) }
        do {
            return try read(response)
        } catch let error as ProviderError {
            throw upstream.redact(Self.failure(error, in: response))
        }
    }

    /// A failure found in a 2xx answer, with the answer's rate limits.
    ///
    /// Its status stays what the dialect made it: the 2xx describes no failure, and a refusal
    /// reported with it would reach the caller as a success.
    private static func failure(_ error: ProviderError, in response: UpstreamResponse) -> ProviderError {
        var error = error
        error.rateLimit = error.rateLimit ?? response.rateLimit
        return error
    }
}

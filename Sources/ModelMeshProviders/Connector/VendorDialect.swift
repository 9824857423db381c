import Foundation
import ModelMesh
import NIOHTTP1

/// One vendor's wire format, as ``HTTPProviderConnector`` needs it: how each call is built,
/// how its answers are read, how its failures are classified.
///
/// A dialect never sends a byte. Everything that is the same for every vendor — the transport,
/// the configured headers, the API key, `x-request-id`, timeouts, scrubbing secrets from
/// errors, rate-limit headers — belongs to the connector.
protocol VendorDialect: Sendable {
    /// Turns the streamed answer's server-sent events into chunks.
    associatedtype StreamDecoder: SSEEventDecoder where StreamDecoder.Element == ChatCompletionChunk

    /// The base URL the calls' paths are appended to.
    var baseURL: String { get }
    /// Where the API key goes.
    var apiKeyPlacement: APIKeyPlacement { get }
    /// Where the answers report rate limits.
    var rateLimitHeaders: RateLimitHeaderNames { get }
    /// Headers of every request besides `accept` (`anthropic-version`, `OpenAI-Organization`);
    /// the provider's configured headers win over them.
    var vendorHeaders: HTTPHeaders { get }

    /// The call of a complete chat answer.
    func completionCall(_ request: ChatCompletionRequest, target: ModelTarget) throws -> DialectCall
    /// The call of a streamed chat answer.
    func streamCall(_ request: ChatCompletionRequest, target: ModelTarget) throws -> DialectCall
    /// The call of an embeddings request; throws when the vendor has none.
    func embeddingsCall(_ request: EmbeddingRequest, target: ModelTarget) throws -> DialectCall
    /// One page of the model list: the first for a `nil` cursor.
    func modelListCall(cursor: String?) -> DialectCall
    /// The cheapest call that proves the host answers and the key is accepted.
    func healthCheckCall() -> DialectCall

    /// The completion in a 2xx answer.
    func completion(from response: UpstreamResponse, target: ModelTarget) throws -> ProviderCompletion
    /// The completion in a 2xx answer whose bytes the caller relays as they are (the proxy,
    /// for a request it passed through as bytes): a dialect may read what the engine needs
    /// without decoding the rest. By default, ``completion(from:target:)``.
    func relayedCompletion(from response: UpstreamResponse, target: ModelTarget) throws -> ProviderCompletion
    /// The embeddings in a 2xx answer.
    func embeddings(from response: UpstreamResponse, target: ModelTarget) throws -> EmbeddingResponse
    /// The models of one 2xx model-list page, and the cursor of the next page, if any.
    func modelListPage(from response: UpstreamResponse) throws -> (models: [ProviderModelInfo], next: String?)
    /// The decoder of one streamed answer.
    func streamDecoder(target: ModelTarget) -> StreamDecoder
    /// The decoder of a stream whose chunks the caller relays as they came (the proxy, for a
    /// request it passed through as bytes). By default, ``streamDecoder(target:)``.
    func relayingStreamDecoder(target: ModelTarget) -> StreamDecoder
    /// The classified error of a non-2xx answer.
    func error(for response: UpstreamResponse) -> ProviderError
}

/// Where a vendor expects the API key.
enum APIKeyPlacement: Sendable, Hashable {
    /// A header `name: <prefix><key>` (`authorization: Bearer sk-...`); a configured header of
    /// the same name replaces it.
    case header(name: String, prefix: String = "")
    /// A query parameter (`?key=...`).
    case query(name: String)
}

/// One call of a dialect: method, path and body, before the connector adds the base URL,
/// the key and the headers.
struct DialectCall: Sendable {
    var method: HTTPMethod
    /// The path after the base URL, possibly with a query (`/v1beta/models/x:streamGenerateContent?alt=sse`).
    var path: String
    /// Further query parameters, already escaped (`limit=1000`).
    var query: [String]
    /// A JSON body.
    var body: Data?

    init(method: HTTPMethod = .POST, path: String, query: [String] = [], body: Data? = nil) {
        self.method = method
        self.path = path
        self.query = query
        self.body = body
    }

    /// A `GET` of `path`.
    static func get(_ path: String, query: [String] = []) -> DialectCall {
        DialectCall(method: .GET, path: path, query: query)
    }

    /// A `POST` of `value` encoded as JSON.
    static func post(_ path: String, json value: some Encodable) throws -> DialectCall {
        do {
            return DialectCall(path: path, body: try JSONEncoder().encode(value))
        } catch {
            throw ProviderError(.invalidRequest, message: "The request could not be encoded: \(error)")
        }
    }
}

extension VendorDialect {
    func relayingStreamDecoder(target: ModelTarget) -> StreamDecoder {
        streamDecoder(target: target)
    }

    func relayedCompletion(from response: UpstreamResponse, target: ModelTarget) throws -> ProviderCompletion {
        try completion(from: response, target: target)
    }
}

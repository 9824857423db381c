import Foundation
import ModelMesh

/// A connector for the Google Gemini API (`google.gemini.v1`, `generativelanguage.googleapis.com`, `v1beta`).
///
/// Chat completions go to `models/<name>:generateContent`, streams to
/// `models/<name>:streamGenerateContent?alt=sse`, embeddings to `:embedContent` (one text) or
/// `:batchEmbedContents` (a list), each with the configured headers and `x-request-id` with
/// the request's id. Translation is ``GeminiTranslator``'s; a stream is complete only when a
/// candidate's `finishReason` was seen, so a body that ends without one fails with
/// `.streamInterrupted`. Errors are classified from Google's error bodies
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
    public static let connectorID = VendorCatalogue.google.connectorID
    /// The API host used when the provider sets no `base_url`
    /// (`https://generativelanguage.googleapis.com`).
    public static let defaultBaseURL = VendorCatalogue.google.defaultBaseURL
    /// The attempt timeout when the provider configures none.
    public static let defaultTimeout: Duration = .seconds(60)

    private let connector: HTTPProviderConnector<GeminiDialect>

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
        connector = HTTPProviderConnector(
            configuration: configuration, dialect: try GeminiDialect(configuration: configuration),
            transport: transport, defaultTimeout: Self.defaultTimeout, streamIdleTimeout: streamIdleTimeout)
    }

    /// The provider id.
    public var id: String { connector.id }
    /// The API host, without a version path.
    public var baseURL: String { connector.dialect.baseURL }
    /// `maxOutputTokens` for requests that set none (`nil`: Gemini's default).
    public var defaultMaxTokens: Int? { connector.dialect.defaultMaxTokens }
    /// The `safety_settings` sent with every generation request.
    public var safetySettings: JSONValue? { connector.dialect.safetySettings }
    /// Bounds one attempt (connect to last byte of a complete answer; the head of a stream).
    public var timeout: Duration { connector.timeout }
    /// The longest silence tolerated inside a streamed body.
    public var streamIdleTimeout: Duration { connector.streamIdleTimeout }

    /// A mirror without credentials: only the id, the connector and the endpoint.
    public var customMirror: Mirror {
        Mirror(self, children: ["id": id, "connector": Self.connectorID, "baseURL": baseURL], displayStyle: .class)
    }

    /// Events of streamed answers that could not be decoded and were skipped, since creation.
    public var invalidStreamEventCount: Int { connector.invalidStreamEventCount }

    /// The stream's deadlines are enforced by the connection watchdog (no timer per chunk).
    public var enforcesStreamDeadlines: Bool { connector.enforcesStreamDeadlines }

    // MARK: ProviderConnector

    public func complete(_ request: ChatCompletionRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderCompletion
    {
        try await connector.complete(request, target: target, context: context)
    }

    public func stream(_ request: ChatCompletionRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderStream
    {
        try await connector.stream(request, target: target, context: context)
    }

    public func embed(_ request: EmbeddingRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderEmbedding
    {
        try await connector.embed(request, target: target, context: context)
    }

    /// The models of `GET /v1beta/models`, every page; ids without the `models/` prefix,
    /// context windows from `inputTokenLimit`.
    public func listModels() async throws -> [ProviderModelInfo] {
        try await connector.listModels()
    }

    /// Lists one model: proves the host answers and the key is accepted.
    public func healthCheck() async throws {
        try await connector.healthCheck()
    }

    /// Nothing to release: the transport is shared and shut down by its owner.
    public func shutdown() async {}
}

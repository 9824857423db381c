import Foundation
import ModelMesh

/// A connector for the Anthropic Messages API (`anthropic.claude.v1`, alias `anthropic.llm.v1`).
///
/// Requests are translated by ``AnthropicTranslator`` and sent to `POST {base}/v1/messages`
/// with `x-api-key`, `anthropic-version`, the configured headers and `x-request-id` with the
/// request's id; streams are read as server-sent events through an
/// ``AnthropicStreamTranslator`` and end normally on `message_stop`, or when the body ends
/// properly after `message_delta` reported a stop reason (a body that ends earlier fails
/// with `.streamInterrupted`). Failures are classified from Anthropic's error bodies
/// (`overloaded_error` 529 is a server error, `rate_limit_error` a rate limit with its
/// `retry-after`), and `anthropic-ratelimit-*` headers are reported as rate limits.
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
    public static let connectorID = VendorCatalogue.anthropic.connectorID
    /// `anthropic.llm.v1`, accepted as a synonym.
    public static let aliasConnectorID = "anthropic.llm.v1"
    /// The API host used when the provider sets no `base_url` (`https://api.anthropic.com`).
    public static let defaultBaseURL = VendorCatalogue.anthropic.defaultBaseURL
    /// The attempt timeout when the provider configures none.
    public static let defaultTimeout: Duration = .seconds(60)

    private let connector: HTTPProviderConnector<AnthropicDialect>

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
            configuration: configuration, dialect: try AnthropicDialect(configuration: configuration),
            transport: transport, defaultTimeout: Self.defaultTimeout, streamIdleTimeout: streamIdleTimeout)
    }

    /// The provider id.
    public var id: String { connector.id }
    /// The API host, without a version path (`https://api.anthropic.com`).
    public var baseURL: String { connector.dialect.baseURL }
    /// The `anthropic-version` header value.
    public var apiVersion: String { connector.dialect.apiVersion }
    /// `max_tokens` for requests that set none.
    public var defaultMaxTokens: Int { connector.dialect.defaultMaxTokens }
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

    /// `https://api.anthropic.com/v1/messages`
    public var messagesURL: String { baseURL + AnthropicTranslator.messagesPath }
    /// `https://api.anthropic.com/v1/models`
    public var modelsURL: String { baseURL + "/v1/models" }

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

    /// Anthropic has no embeddings endpoint: always throws `.invalidRequest`.
    public func embed(_ request: EmbeddingRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderEmbedding
    {
        try await connector.embed(request, target: target, context: context)
    }

    /// The models of `GET /v1/models`, every page.
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

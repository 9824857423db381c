import Foundation
import ModelMesh

/// A connector for OpenAI and every server that speaks its wire format: Groq, DeepSeek,
/// Mistral, Together, OpenRouter, xAI, Perplexity, Ollama, vLLM, LM Studio, LocalAI and any
/// `openai-compatible.llm.v1` endpoint.
///
/// Requests go out as they came, with `model` set to the target's wire name; unknown fields
/// (`seed`, `logprobs`, vendor extensions) pass through unchanged. Streams ask for a final
/// usage chunk and end normally on `data: [DONE]`, or when the body ends properly after every
/// choice reported its `finish_reason` (servers that never send `[DONE]`); a body that ends
/// before that fails with `.streamInterrupted`. Every request carries the configured headers
/// and `x-request-id` with the request's id.
///
/// ```swift
/// let transport = HTTPTransport()
/// let groq = try OpenAICompatibleProvider(
///     configuration: ProviderConfiguration(id: "groq", apiKey: Secret(key)), transport: transport)
/// let answer = try await groq.complete(request, target: target, context: context)
/// ```
public final class OpenAICompatibleProvider: ProviderConnector, CustomReflectable {
    private let connector: HTTPProviderConnector<OpenAIDialect>

    /// Creates the connector for `configuration`.
    ///
    /// - Parameters:
    ///   - configuration: The provider; its `connector` picks the vendor unless `vendor` is given.
    ///   - transport: The shared HTTP transport.
    ///   - vendor: Overrides the vendor entry (for custom family members).
    ///   - streamIdleTimeout: The stall deadline inside streams (default: the provider timeout).
    /// - Throws: ``ProviderSetupError`` when no base URL is known or it is malformed.
    public init(
        configuration: ProviderConfiguration, transport: HTTPTransport, vendor: OpenAICompatibleVendor? = nil,
        streamIdleTimeout: Duration? = nil
    ) throws {
        let vendor = vendor ?? OpenAICompatibleVendor.vendor(forConnector: configuration.connector) ?? .generic
        connector = HTTPProviderConnector(
            configuration: configuration, dialect: try OpenAIDialect(configuration: configuration, vendor: vendor),
            transport: transport, defaultTimeout: vendor.defaultTimeout, streamIdleTimeout: streamIdleTimeout)
    }

    /// The provider id.
    public var id: String { connector.id }
    /// The vendor entry the connector ID selected.
    public var vendor: OpenAICompatibleVendor { connector.dialect.vendor }
    /// The base URL with its version path (`https://api.openai.com/v1`); endpoints are appended.
    public var baseURL: String { connector.dialect.baseURL }
    /// Bounds one attempt (connect to last byte of a complete answer; the head of a stream).
    public var timeout: Duration { connector.timeout }
    /// The longest silence tolerated inside a streamed body.
    public var streamIdleTimeout: Duration { connector.streamIdleTimeout }

    /// A mirror without credentials: only the id, the connector and the endpoint.
    public var customMirror: Mirror {
        Mirror(self, children: ["id": id, "connector": vendor.connectorID, "baseURL": baseURL], displayStyle: .class)
    }

    /// Events of streamed answers that could not be decoded and were skipped, since creation.
    public var invalidStreamEventCount: Int { connector.invalidStreamEventCount }

    /// The stream's deadlines are enforced by the connection watchdog (no timer per chunk).
    public var enforcesStreamDeadlines: Bool { connector.enforcesStreamDeadlines }

    /// `https://host/v1/chat/completions`
    public var chatCompletionsURL: String { baseURL + "/chat/completions" }
    /// `https://host/v1/embeddings`
    public var embeddingsURL: String { baseURL + "/embeddings" }
    /// `https://host/v1/models`
    public var modelsURL: String { baseURL + "/models" }

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

    /// The models of `GET {base}/models`.
    public func listModels() async throws -> [ProviderModelInfo] {
        try await connector.listModels()
    }

    /// Lists the models: proves the host answers and the key is accepted.
    public func healthCheck() async throws {
        try await connector.healthCheck()
    }

    /// Nothing to release: the transport is shared and shut down by its owner.
    public func shutdown() async {}
}

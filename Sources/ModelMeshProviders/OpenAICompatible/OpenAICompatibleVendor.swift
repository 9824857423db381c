import ModelMesh

/// A model a vendor serves by default: what auto-detection registers and where default
/// pricing comes from.
public struct OpenAICompatibleModel: Sendable, Hashable {
    /// The name sent on the wire (`gpt-4o`, `meta-llama/Llama-3.3-70B-Instruct-Turbo`).
    public var wireName: String
    /// Full dotted capability paths.
    public var capabilities: [String]
    public var contextWindow: Int?
    public var maxOutputTokens: Int?
    /// List price in USD per one million tokens, where known.
    public var pricing: ModelPricing?
    public var features: ModelFeatures

    public init(
        wireName: String, capabilities: [String] = [OpenAICompatibleModel.chat], contextWindow: Int? = nil,
        maxOutputTokens: Int? = nil, pricing: ModelPricing? = nil, features: ModelFeatures = []
    ) {
        self.wireName = wireName
        self.capabilities = capabilities
        self.contextWindow = contextWindow
        self.maxOutputTokens = maxOutputTokens
        self.pricing = pricing
        self.features = features
    }

    /// `generation.text-generation.chat-completion`
    public static let chat = "generation.text-generation.chat-completion"
    /// `representation.embeddings.text-embeddings`
    public static let embeddings = "representation.embeddings.text-embeddings"
    /// `retrieval.grounded-generation.web-search`
    public static let webSearch = "retrieval.grounded-generation.web-search"
}

/// One vendor of the OpenAI-compatible family: its connector ID, endpoint and default models.
///
/// The table drives ``OpenAICompatibleProvider`` (base URL, vendor headers) and default
/// pricing (``BuiltInProviders/defaultPricing(connector:wireName:)``). The vendor's identity —
/// connector ID, default base URL, environment variables — comes from its
/// ``ModelMesh/VendorCatalogue`` entry, which environment auto-detection reads too.
public struct OpenAICompatibleVendor: Sendable, Hashable {
    /// The connector ID, e.g. `groq.api.v1`.
    public var connectorID: String
    /// The conventional provider name (`groq`), used as provider id by auto-detection.
    public var name: String
    /// The base URL including the version path, or `nil` when the user must give one.
    public var defaultBaseURL: String?
    /// The environment variable holding the API key (cloud vendors).
    public var apiKeyVariable: String?
    /// The environment variable holding the server address (local servers).
    public var hostVariable: String?
    /// Whether the vendor runs on the user's machine (no key needed).
    public var isLocal: Bool
    public var defaultModels: [OpenAICompatibleModel]
    /// The attempt timeout when the provider configures none.
    public var defaultTimeout: Duration
    /// Whether streamed requests ask for a final usage chunk (`stream_options.include_usage`).
    public var streamsUsage: Bool

    public init(
        connectorID: String, name: String, defaultBaseURL: String?, apiKeyVariable: String? = nil,
        hostVariable: String? = nil, isLocal: Bool = false, defaultModels: [OpenAICompatibleModel] = [],
        defaultTimeout: Duration = .seconds(60), streamsUsage: Bool = true
    ) {
        self.connectorID = connectorID
        self.name = name
        self.defaultBaseURL = defaultBaseURL
        self.apiKeyVariable = apiKeyVariable
        self.hostVariable = hostVariable
        self.isLocal = isLocal
        self.defaultModels = defaultModels
        self.defaultTimeout = defaultTimeout
        self.streamsUsage = streamsUsage
    }

    /// The family member described by a ``ModelMesh/VendorCatalogue`` entry: its connector ID,
    /// name, default base URL and environment variables, with the given default models.
    public init(
        _ entry: VendorCatalogue.Entry, defaultModels: [OpenAICompatibleModel] = [],
        defaultTimeout: Duration = .seconds(60), streamsUsage: Bool = true
    ) {
        self.init(
            connectorID: entry.connectorID, name: entry.id, defaultBaseURL: entry.defaultBaseURL,
            apiKeyVariable: entry.apiKeyVariables.first, hostVariable: entry.hostVariable, isLocal: entry.isLocal,
            defaultModels: defaultModels, defaultTimeout: defaultTimeout, streamsUsage: streamsUsage)
    }

    /// The default model with this wire name, if any.
    public func model(_ wireName: String) -> OpenAICompatibleModel? {
        defaultModels.first { $0.wireName == wireName }
    }
}

extension OpenAICompatibleVendor {
    private static let chatFeatures: ModelFeatures = [.toolCalling, .systemPrompt]

    public static let openAI = OpenAICompatibleVendor(
        VendorCatalogue.openAI,
        defaultModels: [
            .init(
                wireName: "gpt-4o", contextWindow: 128_000, maxOutputTokens: 16_384,
                pricing: .init(inputPerMillion: 2.5, outputPerMillion: 10, cachedInputPerMillion: 1.25),
                features: [.toolCalling, .vision, .systemPrompt, .structuredOutput, .jsonMode, .logprobs]),
            .init(
                wireName: "gpt-4o-mini", contextWindow: 128_000, maxOutputTokens: 16_384,
                pricing: .init(inputPerMillion: 0.15, outputPerMillion: 0.6, cachedInputPerMillion: 0.075),
                features: [.toolCalling, .vision, .systemPrompt, .structuredOutput, .jsonMode, .logprobs]),
            .init(
                wireName: "gpt-4-turbo", contextWindow: 128_000, maxOutputTokens: 4096,
                pricing: .init(inputPerMillion: 10, outputPerMillion: 30),
                features: [.toolCalling, .vision, .systemPrompt, .jsonMode, .logprobs]),
            .init(
                wireName: "gpt-3.5-turbo", contextWindow: 16_385, maxOutputTokens: 4096,
                pricing: .init(inputPerMillion: 0.5, outputPerMillion: 1.5),
                features: [.toolCalling, .systemPrompt, .jsonMode, .logprobs]),
            .init(
                wireName: "text-embedding-3-small", capabilities: [OpenAICompatibleModel.embeddings],
                contextWindow: 8191, pricing: .init(inputPerMillion: 0.02, outputPerMillion: 0)),
            .init(
                wireName: "text-embedding-3-large", capabilities: [OpenAICompatibleModel.embeddings],
                contextWindow: 8191, pricing: .init(inputPerMillion: 0.13, outputPerMillion: 0)),
        ])

    public static let groq = OpenAICompatibleVendor(
        VendorCatalogue.groq,
        defaultModels: [
            .init(
                wireName: "llama-3.3-70b-versatile", contextWindow: 128_000, maxOutputTokens: 32_768,
                features: chatFeatures),
            .init(wireName: "llama-3.1-8b-instant", contextWindow: 128_000, features: chatFeatures),
            .init(wireName: "gemma2-9b-it", contextWindow: 8192, features: [.systemPrompt]),
            .init(wireName: "mixtral-8x7b-32768", contextWindow: 32_768, features: chatFeatures),
        ])

    public static let deepSeek = OpenAICompatibleVendor(
        VendorCatalogue.deepSeek,
        defaultModels: [
            .init(
                wireName: "deepseek-chat", contextWindow: 64_000, maxOutputTokens: 8192,
                pricing: .init(inputPerMillion: 0.14, outputPerMillion: 0.28),
                features: [.toolCalling, .systemPrompt, .jsonMode, .prefill]),
            .init(
                wireName: "deepseek-reasoner", contextWindow: 64_000, maxOutputTokens: 8192, features: [.systemPrompt]),
        ])

    public static let mistral = OpenAICompatibleVendor(
        VendorCatalogue.mistral,
        defaultModels: [
            .init(
                wireName: "mistral-large-latest", contextWindow: 128_000, maxOutputTokens: 8192,
                features: chatFeatures.union(.jsonMode)),
            .init(
                wireName: "mistral-small-latest",
                capabilities: [OpenAICompatibleModel.chat, OpenAICompatibleModel.embeddings],
                contextWindow: 128_000, maxOutputTokens: 8192, features: chatFeatures.union(.jsonMode)),
            .init(wireName: "codestral-latest", features: chatFeatures),
            .init(wireName: "mistral-embed", capabilities: [OpenAICompatibleModel.embeddings], contextWindow: 8192),
        ])

    public static let together = OpenAICompatibleVendor(
        VendorCatalogue.together,
        defaultModels: [
            .init(wireName: "meta-llama/Llama-3.3-70B-Instruct-Turbo", features: chatFeatures),
            .init(
                wireName: "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", contextWindow: 131_072, maxOutputTokens: 4096,
                features: chatFeatures),
            .init(wireName: "Qwen/Qwen2.5-72B-Instruct-Turbo", features: chatFeatures),
            .init(wireName: "deepseek-ai/DeepSeek-V3", features: chatFeatures),
            .init(wireName: "BAAI/bge-large-en-v1.5", capabilities: [OpenAICompatibleModel.embeddings]),
        ])

    public static let openRouter = OpenAICompatibleVendor(
        VendorCatalogue.openRouter,
        defaultModels: [
            .init(wireName: "openrouter/auto", contextWindow: 128_000, maxOutputTokens: 4096, features: chatFeatures),
            .init(wireName: "openai/gpt-4o", features: chatFeatures.union(.vision)),
            .init(wireName: "anthropic/claude-sonnet-4", features: chatFeatures.union(.vision)),
            .init(wireName: "google/gemini-2.0-flash-exp", features: chatFeatures.union(.vision)),
            .init(wireName: "meta-llama/llama-3.3-70b-instruct", features: chatFeatures),
        ])

    public static let xAI = OpenAICompatibleVendor(
        VendorCatalogue.xAI,
        defaultModels: [
            .init(wireName: "grok-2", contextWindow: 128_000, maxOutputTokens: 32_768, features: chatFeatures),
            .init(wireName: "grok-2-mini", contextWindow: 128_000, maxOutputTokens: 32_768, features: chatFeatures),
        ])

    public static let perplexity = OpenAICompatibleVendor(
        VendorCatalogue.perplexity,
        defaultModels: [
            .init(
                wireName: "sonar-pro", capabilities: [OpenAICompatibleModel.webSearch], contextWindow: 200_000,
                maxOutputTokens: 8192, features: [.systemPrompt]),
            .init(
                wireName: "sonar", capabilities: [OpenAICompatibleModel.webSearch], contextWindow: 128_000,
                maxOutputTokens: 8192, features: [.systemPrompt]),
            .init(
                wireName: "sonar-reasoning-pro", capabilities: [OpenAICompatibleModel.webSearch],
                features: [.systemPrompt]),
        ])

    public static let ollama = OpenAICompatibleVendor(
        VendorCatalogue.ollama,
        defaultModels: [
            .init(wireName: "llama3", contextWindow: 8192, maxOutputTokens: 4096, features: [.systemPrompt])
        ])

    public static let vLLM = OpenAICompatibleVendor(VendorCatalogue.vLLM)

    public static let lmStudio = OpenAICompatibleVendor(VendorCatalogue.lmStudio)

    public static let localAI = OpenAICompatibleVendor(VendorCatalogue.localAI)

    /// Any other server speaking the OpenAI wire format; `base_url` is required.
    public static let generic = OpenAICompatibleVendor(
        connectorID: "openai-compatible.llm.v1", name: "openai-compatible", defaultBaseURL: nil)

    /// The whole family: every OpenAI-wire ``ModelMesh/VendorCatalogue`` vendor in
    /// auto-detection order, then ``generic``.
    public static let all: [OpenAICompatibleVendor] = {
        let tabled: [OpenAICompatibleVendor] = [
            .openAI, .groq, .mistral, .together, .openRouter, .deepSeek, .xAI, .perplexity, .ollama, .lmStudio,
            .vLLM, .localAI,
        ]
        let family = VendorCatalogue.entries.filter { $0.family == .openAI }.map { entry in
            // A catalogue vendor without a model table here is still served, without default models.
            tabled.first { $0.connectorID == entry.connectorID } ?? OpenAICompatibleVendor(entry)
        }
        return family + [.generic]
    }()

    /// The vendor of a connector ID (long or short form), or `nil` when it is not in the family.
    public static func vendor(forConnector id: String) -> OpenAICompatibleVendor? {
        let short = ConnectorID.normalize(id)
        return all.first { $0.connectorID == short }
    }
}

/// The AI vendors ModelMesh knows by name: one table, read by environment auto-detection
/// (``ProviderAutoDetection``), by the configuration (a vendor name as provider id) and by
/// the built-in connectors (their default base URLs and environment variables).
///
/// Each entry says which connector serves the vendor, which wire format it speaks, where
/// its API lives, which environment variables hold its key (or, for a server on the user's
/// machine, its address), and which models an auto-detected provider of it starts with.
///
/// ```swift
/// let groq = VendorCatalogue.vendor(named: "groq")
/// print(groq?.connectorID ?? "", groq?.apiKeyVariables ?? [])  // groq.api.v1 ["GROQ_API_KEY"]
/// ```
public enum VendorCatalogue {
    /// The wire format a vendor speaks.
    public enum WireFamily: String, Sendable, Hashable, CaseIterable {
        /// OpenAI chat completions (`POST {base}/chat/completions`).
        case openAI = "openai"
        /// The Anthropic Messages API (`POST {base}/v1/messages`).
        case anthropic
        /// The Google Gemini API (`POST {base}/v1beta/models/{model}:generateContent`).
        case gemini
    }

    /// A model an auto-detected provider of the vendor is configured with.
    public struct Model: Sendable, Hashable {
        /// The model id's part after the vendor id (`gpt-4o` in `openai.gpt-4o`).
        public var name: String
        /// The name sent on the wire, when it differs from ``name``
        /// (`meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo`).
        public var wireName: String
        /// Full dotted capability paths.
        public var capabilities: [String]
        /// Tokens of prompt and answer the model accepts.
        public var contextWindow: Int
        /// The longest answer, in tokens.
        public var maxOutputTokens: Int
        /// What the model supports beyond plain chat.
        public var features: ModelFeatures
        /// USD per one million tokens, where the catalogue states it.
        public var pricing: ModelPricing?

        /// A model; its wire name is `name` unless given.
        public init(
            name: String, wireName: String? = nil, capabilities: [String] = [VendorCatalogue.chat],
            contextWindow: Int, maxOutputTokens: Int, features: ModelFeatures, pricing: ModelPricing? = nil
        ) {
            self.name = name
            self.wireName = wireName ?? name
            self.capabilities = capabilities
            self.contextWindow = contextWindow
            self.maxOutputTokens = maxOutputTokens
            self.features = features
            self.pricing = pricing
        }
    }

    /// One vendor.
    public struct Entry: Sendable, Hashable {
        /// The vendor id, also the provider id of an auto-detected provider (`openai`).
        public var id: String
        /// The connector that serves it (`openai.llm.v1`).
        public var connectorID: String
        /// Further connector IDs of the same connector (`anthropic.llm.v1`).
        public var connectorAliases: [String]
        /// Further names that mean this vendor when used as a provider id (`gemini`).
        public var nameAliases: [String]
        /// The wire format it speaks.
        public var family: WireFamily
        /// The base URL the connector uses when the provider sets none, in the connector's
        /// convention: with the version path for the OpenAI family
        /// (`https://api.openai.com/v1`), the API host for Anthropic and Gemini.
        public var defaultBaseURL: String
        /// Variables holding the API key, the first non-empty one wins (cloud vendors).
        public var apiKeyVariables: [String]
        /// The variable holding the server's address (vendors running on the user's machine).
        public var hostVariable: String?
        /// Variables that override the base URL of an auto-detected provider, as the vendors'
        /// own SDKs read them; the first non-empty one wins.
        public var baseURLVariables: [String]
        /// The models an auto-detected provider starts with, in priority order.
        public var models: [Model]

        /// A vendor; its base-URL variable is `<ID>_BASE_URL` unless given.
        public init(
            id: String, connectorID: String, connectorAliases: [String] = [], nameAliases: [String] = [],
            family: WireFamily, defaultBaseURL: String, apiKeyVariables: [String] = [], hostVariable: String? = nil,
            baseURLVariables: [String]? = nil, models: [Model] = []
        ) {
            self.id = id
            self.connectorID = connectorID
            self.connectorAliases = connectorAliases
            self.nameAliases = nameAliases
            self.family = family
            self.defaultBaseURL = defaultBaseURL
            self.apiKeyVariables = apiKeyVariables
            self.hostVariable = hostVariable
            self.baseURLVariables = baseURLVariables ?? [id.uppercased() + "_BASE_URL"]
            self.models = models
        }

        /// Whether the vendor runs on the user's machine: found by its host variable, no key.
        public var isLocal: Bool { hostVariable != nil }

        /// The variables auto-detection reads: the host variable of a local vendor, else the
        /// API-key variables.
        public var detectionVariables: [String] { hostVariable.map { [$0] } ?? apiKeyVariables }

        /// Every connector ID of the vendor's connector.
        public var connectorIDs: [String] { [connectorID] + connectorAliases }
    }

    /// `generation.text-generation.chat-completion`
    public static let chat = "generation.text-generation.chat-completion"
    /// `representation.embeddings.text-embeddings`
    public static let textEmbeddings = "representation.embeddings.text-embeddings"
    /// `retrieval.grounded-generation.web-search`
    public static let webSearch = "retrieval.grounded-generation.web-search"

    // MARK: The vendors

    private static let chatTools: ModelFeatures = [.toolCalling, .systemPrompt]

    /// OpenAI (`OPENAI_API_KEY`).
    public static let openAI = Entry(
        id: "openai", connectorID: "openai.llm.v1", family: .openAI, defaultBaseURL: "https://api.openai.com/v1",
        apiKeyVariables: ["OPENAI_API_KEY"],
        models: [
            Model(
                name: "gpt-4o", contextWindow: 128_000, maxOutputTokens: 16_384,
                features: [.toolCalling, .vision, .systemPrompt],
                pricing: ModelPricing(inputPerMillion: 2.5, outputPerMillion: 10)),
            Model(
                name: "gpt-4o-mini", contextWindow: 128_000, maxOutputTokens: 16_384,
                features: [.toolCalling, .vision, .systemPrompt],
                pricing: ModelPricing(inputPerMillion: 0.15, outputPerMillion: 0.6)),
        ])

    /// Anthropic (`ANTHROPIC_API_KEY`).
    public static let anthropic = Entry(
        id: "anthropic", connectorID: "anthropic.claude.v1", connectorAliases: ["anthropic.llm.v1"],
        family: .anthropic, defaultBaseURL: "https://api.anthropic.com", apiKeyVariables: ["ANTHROPIC_API_KEY"],
        models: [
            Model(
                name: "claude-sonnet-4-20250514", contextWindow: 200_000, maxOutputTokens: 16_384,
                features: [.toolCalling, .vision, .systemPrompt, .prefill],
                pricing: ModelPricing(inputPerMillion: 3, outputPerMillion: 15)),
            Model(
                name: "claude-haiku-4-5-20251001", contextWindow: 200_000, maxOutputTokens: 8192,
                features: [.toolCalling, .vision, .systemPrompt, .prefill],
                pricing: ModelPricing(inputPerMillion: 1, outputPerMillion: 5)),
        ])

    /// Google Gemini (`GOOGLE_API_KEY` or `GEMINI_API_KEY`; `gemini` names it too).
    public static let google = Entry(
        id: "google", connectorID: "google.gemini.v1", nameAliases: ["gemini"], family: .gemini,
        defaultBaseURL: "https://generativelanguage.googleapis.com",
        apiKeyVariables: ["GOOGLE_API_KEY", "GEMINI_API_KEY"],
        baseURLVariables: ["GEMINI_BASE_URL", "GOOGLE_BASE_URL"],
        models: [
            Model(
                name: "gemini-2.0-flash", contextWindow: 1_048_576, maxOutputTokens: 8192,
                features: [.toolCalling, .vision, .systemPrompt]),
            Model(
                name: "gemini-2.0-flash-lite", contextWindow: 1_048_576, maxOutputTokens: 8192,
                features: [.systemPrompt]),
        ])

    /// Groq (`GROQ_API_KEY`).
    public static let groq = Entry(
        id: "groq", connectorID: "groq.api.v1", family: .openAI, defaultBaseURL: "https://api.groq.com/openai/v1",
        apiKeyVariables: ["GROQ_API_KEY"],
        models: [
            Model(name: "llama-3.3-70b-versatile", contextWindow: 128_000, maxOutputTokens: 32_768, features: chatTools)
        ])

    /// Mistral (`MISTRAL_API_KEY`).
    public static let mistral = Entry(
        id: "mistral", connectorID: "mistral.api.v1", family: .openAI, defaultBaseURL: "https://api.mistral.ai/v1",
        apiKeyVariables: ["MISTRAL_API_KEY"],
        models: [
            Model(name: "mistral-large-latest", contextWindow: 128_000, maxOutputTokens: 8192, features: chatTools),
            Model(
                name: "mistral-small-latest", capabilities: [chat, textEmbeddings], contextWindow: 128_000,
                maxOutputTokens: 8192, features: chatTools),
        ])

    /// Together AI (`TOGETHER_API_KEY`).
    public static let together = Entry(
        id: "together", connectorID: "together.api.v1", family: .openAI, defaultBaseURL: "https://api.together.xyz/v1",
        apiKeyVariables: ["TOGETHER_API_KEY"],
        models: [
            Model(
                name: "meta-llama-3.1-8b-instruct-turbo", wireName: "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
                contextWindow: 131_072, maxOutputTokens: 4096, features: [.systemPrompt])
        ])

    /// OpenRouter (`OPENROUTER_API_KEY`).
    public static let openRouter = Entry(
        id: "openrouter", connectorID: "openrouter.gateway.v1", family: .openAI,
        defaultBaseURL: "https://openrouter.ai/api/v1", apiKeyVariables: ["OPENROUTER_API_KEY"],
        models: [
            Model(
                name: "auto", wireName: "openrouter/auto", contextWindow: 128_000, maxOutputTokens: 4096,
                features: [.systemPrompt])
        ])

    /// DeepSeek (`DEEPSEEK_API_KEY`).
    public static let deepSeek = Entry(
        id: "deepseek", connectorID: "deepseek.api.v1", family: .openAI, defaultBaseURL: "https://api.deepseek.com/v1",
        apiKeyVariables: ["DEEPSEEK_API_KEY"],
        models: [
            Model(
                name: "deepseek-chat", contextWindow: 64_000, maxOutputTokens: 8192, features: chatTools,
                pricing: ModelPricing(inputPerMillion: 0.14, outputPerMillion: 0.28))
        ])

    /// xAI Grok (`XAI_API_KEY`).
    public static let xAI = Entry(
        id: "xai", connectorID: "xai.grok.v1", family: .openAI, defaultBaseURL: "https://api.x.ai/v1",
        apiKeyVariables: ["XAI_API_KEY"],
        models: [Model(name: "grok-2", contextWindow: 128_000, maxOutputTokens: 32_768, features: chatTools)])

    /// Perplexity (`PERPLEXITY_API_KEY`): Sonar answers chat completions grounded in web search.
    public static let perplexity = Entry(
        id: "perplexity", connectorID: "perplexity.search.v1", family: .openAI,
        // Perplexity serves at the root, without a version path.
        defaultBaseURL: "https://api.perplexity.ai", apiKeyVariables: ["PERPLEXITY_API_KEY"],
        models: [
            Model(
                name: "sonar", capabilities: [chat, webSearch], contextWindow: 128_000, maxOutputTokens: 8192,
                features: [.systemPrompt])
        ])

    /// Ollama on the user's machine (`OLLAMA_HOST`).
    public static let ollama = Entry(
        id: "ollama", connectorID: "ollama.local.v1", family: .openAI, defaultBaseURL: "http://localhost:11434/v1",
        hostVariable: "OLLAMA_HOST",
        models: [Model(name: "llama3", contextWindow: 8192, maxOutputTokens: 4096, features: [.systemPrompt])])

    /// LM Studio on the user's machine (`LMSTUDIO_HOST`).
    public static let lmStudio = Entry(
        id: "lmstudio", connectorID: "lmstudio.local.v1", family: .openAI, defaultBaseURL: "http://localhost:1234/v1",
        hostVariable: "LMSTUDIO_HOST")

    /// vLLM on the user's machine (`VLLM_HOST`).
    public static let vLLM = Entry(
        id: "vllm", connectorID: "vllm.local.v1", family: .openAI, defaultBaseURL: "http://localhost:8000/v1",
        hostVariable: "VLLM_HOST")

    /// LocalAI on the user's machine (`LOCALAI_HOST`).
    public static let localAI = Entry(
        id: "localai", connectorID: "localai.local.v1", family: .openAI, defaultBaseURL: "http://localhost:8080/v1",
        hostVariable: "LOCALAI_HOST")

    /// Every vendor, in auto-detection priority order.
    public static let entries: [Entry] = [
        openAI, anthropic, google, groq, mistral, together, openRouter, deepSeek, xAI, perplexity, ollama, lmStudio,
        vLLM, localAI,
    ]

    /// The vendor with this id or name alias (`openai`, `gemini`), if any.
    public static func vendor(named name: String) -> Entry? {
        entries.first { $0.id == name } ?? entries.first { $0.nameAliases.contains(name) }
    }

    /// The vendor served by this connector ID (short or long form, aliases included), if any.
    public static func vendor(forConnector id: String) -> Entry? {
        let short = ConnectorID.normalize(id)
        return entries.first { $0.connectorIDs.contains(short) }
    }
}

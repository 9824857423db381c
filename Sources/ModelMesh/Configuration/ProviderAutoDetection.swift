import Foundation

/// Builds a configuration from the environment when there is no configuration file.
///
/// Each provider whose API-key variable is set (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, ...)
/// or whose local host variable is set (`OLLAMA_HOST`, ...) becomes a provider with its
/// default models, and all of them join one `chat-completion` pool (stick-until-failure,
/// registry order = priority order). Provider ids are the short vendor names (`openai`),
/// so model ids (`openai.gpt-4o`) start with their provider id.
///
/// ```swift
/// guard let configuration = ProviderAutoDetection.configuration() else {
///     print("No providers found: set OPENAI_API_KEY, ANTHROPIC_API_KEY, ... or OLLAMA_HOST")
///     return
/// }
/// ```
public enum ProviderAutoDetection {
    /// A provider that can be detected from the environment.
    public struct Entry: Sendable {
        /// The provider id of a detected provider (`openai`).
        public var name: String
        /// Variables holding the API key (cloud) or host (local); the first non-empty one wins.
        public var variables: [String]
        public var connector: String
        /// A local server: the variable holds its base URL and there is no API key.
        public var isLocal: Bool
        /// Models configured when the provider is detected.
        public var models: [ModelConfiguration]
    }

    /// The id of the pool an auto-detected configuration serves.
    public static let poolID = "chat-completion"

    private static let chat = "generation.text-generation.chat-completion"
    private static let textEmbeddings = "representation.embeddings.text-embeddings"
    private static let webSearch = "retrieval.grounded-generation.web-search"

    /// Detectable providers, in priority order.
    public static let registry: [Entry] = [
        cloud(
            "openai", "OPENAI_API_KEY", "openai.llm.v1",
            [
                model("openai.gpt-4o", 128_000, 16_384, perMillion: (2.5, 10), [.toolCalling, .vision, .systemPrompt]),
                model(
                    "openai.gpt-4o-mini", 128_000, 16_384, perMillion: (0.15, 0.6),
                    [.toolCalling, .vision, .systemPrompt]),
            ]),
        cloud(
            "anthropic", "ANTHROPIC_API_KEY", "anthropic.claude.v1",
            [
                model(
                    "anthropic.claude-sonnet-4-20250514", 200_000, 16_384, perMillion: (3, 15),
                    [.toolCalling, .vision, .systemPrompt, .prefill]),
                model(
                    "anthropic.claude-haiku-4-5-20251001", 200_000, 8192, perMillion: (1, 5),
                    [.toolCalling, .vision, .systemPrompt, .prefill]),
            ]),
        Entry(
            name: "google", variables: ["GOOGLE_API_KEY", "GEMINI_API_KEY"], connector: "google.gemini.v1",
            isLocal: false,
            models: [
                model("google.gemini-2.0-flash", 1_048_576, 8192, [.toolCalling, .vision, .systemPrompt]),
                model("google.gemini-2.0-flash-lite", 1_048_576, 8192, [.systemPrompt]),
            ]),
        cloud(
            "groq", "GROQ_API_KEY", "groq.api.v1",
            [model("groq.llama-3.3-70b-versatile", 128_000, 32_768, [.toolCalling, .systemPrompt])]),
        cloud(
            "mistral", "MISTRAL_API_KEY", "mistral.api.v1",
            [
                model("mistral.mistral-large-latest", 128_000, 8192, [.toolCalling, .systemPrompt]),
                model(
                    "mistral.mistral-small-latest", 128_000, 8192, [.toolCalling, .systemPrompt],
                    extra: [textEmbeddings]),
            ]),
        cloud(
            "together", "TOGETHER_API_KEY", "together.api.v1",
            [model("together.meta-llama-3.1-8b-instruct-turbo", 131_072, 4096, [.systemPrompt])]),
        cloud(
            "openrouter", "OPENROUTER_API_KEY", "openrouter.gateway.v1",
            [model("openrouter.auto", 128_000, 4096, [.systemPrompt])]),
        cloud(
            "deepseek", "DEEPSEEK_API_KEY", "deepseek.api.v1",
            [model("deepseek.deepseek-chat", 64_000, 8192, perMillion: (0.14, 0.28), [.toolCalling, .systemPrompt])]),
        cloud(
            "xai", "XAI_API_KEY", "xai.grok.v1", [model("xai.grok-2", 128_000, 32_768, [.toolCalling, .systemPrompt])]),
        // Sonar answers chat completions grounded in web search.
        cloud(
            "perplexity", "PERPLEXITY_API_KEY", "perplexity.search.v1",
            [model("perplexity.sonar", 128_000, 8192, [.systemPrompt], extra: [webSearch])]),
        local("ollama", "OLLAMA_HOST", "ollama.local.v1", [model("ollama.llama3", 8192, 4096, [.systemPrompt])]),
        local("lmstudio", "LMSTUDIO_HOST", "lmstudio.local.v1", []),
        local("vllm", "VLLM_HOST", "vllm.local.v1", []),
        local("localai", "LOCALAI_HOST", "localai.local.v1", []),
    ]

    /// The providers whose variables are set in `environment`, in registry order.
    ///
    /// Cloud providers keep their connector's default base URL; local ones use the host
    /// variable (with `http://` added when it has no scheme).
    public static func detect(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> [ProviderConfiguration] {
        registry.compactMap { entry in
            let value = entry.variables.lazy.compactMap { environment[$0]?.trimmingCharacters(in: .whitespaces) }
                .first { !$0.isEmpty }
            guard let value else { return nil }
            if entry.isLocal {
                let baseURL = value.contains("://") ? value : "http://" + value
                return ProviderConfiguration(id: entry.name, connector: entry.connector, baseURL: baseURL)
            }
            return ProviderConfiguration(id: entry.name, connector: entry.connector, apiKey: Secret(value))
        }
    }

    /// A configuration of the detected providers, their default models, and one
    /// `chat-completion` pool; `nil` when no provider variable is set.
    public static func configuration(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> MeshConfiguration? {
        let providers = detect(environment: environment)
        guard !providers.isEmpty else { return nil }
        let detected = Set(providers.map(\.id))
        let models = registry.filter { detected.contains($0.name) }.flatMap(\.models)
        let pool = PoolConfiguration(id: poolID, capability: chat, strategy: "modelmesh.stick-until-failure.v1")
        return MeshConfiguration(providers: providers, models: models, pools: [pool])
    }

    /// The connector of a vendor name used as a provider id (`openai` → `openai.llm.v1`).
    static func connector(forVendor name: String) -> String? {
        if name == "gemini" { return "google.gemini.v1" }
        return registry.first { $0.name == name }?.connector
    }

    private static func cloud(_ name: String, _ variable: String, _ connector: String, _ models: [ModelConfiguration])
        -> Entry
    {
        Entry(name: name, variables: [variable], connector: connector, isLocal: false, models: models)
    }

    private static func local(_ name: String, _ variable: String, _ connector: String, _ models: [ModelConfiguration])
        -> Entry
    {
        Entry(name: name, variables: [variable], connector: connector, isLocal: true, models: models)
    }

    /// A chat model of `vendor.name`. Prices are USD per 1M tokens (the original lists them
    /// per 1K; they are written here already multiplied by 1000).
    private static func model(
        _ id: String, _ contextWindow: Int, _ maxOutput: Int, perMillion: (Double, Double)? = nil,
        _ features: ModelFeatures,
        extra: [String] = []
    ) -> ModelConfiguration {
        let provider = String(id.prefix { $0 != "." })
        return ModelConfiguration(
            id: id, provider: provider, capabilities: [chat] + extra, features: features, contextWindow: contextWindow,
            maxOutputTokens: maxOutput,
            pricing: perMillion.map { ModelPricing(inputPerMillion: $0.0, outputPerMillion: $0.1) })
    }
}

import Foundation

/// Builds a configuration from the environment when there is no configuration file.
///
/// What can be detected, and how, is the ``VendorCatalogue``.
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

    /// Detectable providers, in priority order: the ``VendorCatalogue`` entries.
    public static let registry: [Entry] = VendorCatalogue.entries.map { vendor in
        Entry(
            name: vendor.id, variables: vendor.detectionVariables, connector: vendor.connectorID,
            isLocal: vendor.isLocal,
            models: vendor.models.map { model in
                ModelConfiguration(
                    id: "\(vendor.id).\(model.name)", name: model.wireName, provider: vendor.id,
                    capabilities: model.capabilities, features: model.features, contextWindow: model.contextWindow,
                    maxOutputTokens: model.maxOutputTokens, pricing: model.pricing)
            })
    }

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
        let pool = PoolConfiguration(
            id: poolID, capability: VendorCatalogue.chat, strategy: "modelmesh.stick-until-failure.v1")
        return MeshConfiguration(providers: providers, models: models, pools: [pool])
    }

    /// The connector of a vendor name used as a provider id (`openai` → `openai.llm.v1`).
    static func connector(forVendor name: String) -> String? {
        VendorCatalogue.vendor(named: name)?.connectorID
    }
}

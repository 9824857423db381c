import Foundation
import ModelMesh
import Synchronization

/// The connectors built into ModelMesh, by connector ID: the entry point a provider registry
/// uses to turn configured providers into ``ProviderConnector``s, and the vendor tables
/// (default models, context windows, list prices) behind them.
///
/// Most code needs only ``ModelMesh/ProviderRegistry/builtIn``:
///
/// ```swift
/// var configuration = try ConfigurationLoader.load(path: "modelmesh.yaml")
/// BuiltInProviders.applyDefaults(to: &configuration)  // list prices, windows, features
/// let mesh = try Mesh(configuration: configuration, providers: .builtIn)
/// // ... at exit:
/// await mesh.shutdown()
/// try await BuiltInProviders.shutdown()
/// ```
///
/// To build connectors one by one, over a transport you own:
///
/// ```swift
/// let transport = HTTPTransport()
/// for provider in configuration.providers where provider.enabled {
///     guard let connector = try BuiltInProviders.make(provider, transport: transport) else {
///         // not built in: look for a custom connector
///     }
/// }
/// ```
public enum BuiltInProviders {
    /// The connector IDs (short form) ``make(_:transport:)`` can build: those of every
    /// ``ModelMesh/VendorCatalogue`` vendor (the OpenAI-compatible family, `anthropic.claude.v1`
    /// with its alias `anthropic.llm.v1`, `google.gemini.v1`) and `openai-compatible.llm.v1`.
    public static var connectorIDs: Set<String> {
        Set(VendorCatalogue.entries.flatMap(\.connectorIDs)).union(OpenAICompatibleVendor.all.map(\.connectorID))
    }

    /// Builds the connector of `configuration`, or returns `nil` when its connector ID is not
    /// built in. All connectors share `transport`'s connection pool.
    ///
    /// - Throws: ``ProviderSetupError`` when the configuration cannot work (no or a bad base
    ///   URL, a setting of the wrong type).
    public static func make(_ configuration: ProviderConfiguration, transport: HTTPTransport) throws
        -> (any ProviderConnector)?
    {
        switch VendorCatalogue.vendor(forConnector: configuration.connector)?.family {
        case .anthropic:
            return try AnthropicProvider(configuration: configuration, transport: transport)
        case .gemini:
            return try GeminiProvider(configuration: configuration, transport: transport)
        case .openAI, nil:
            guard let vendor = OpenAICompatibleVendor.vendor(forConnector: configuration.connector) else { return nil }
            return try OpenAICompatibleProvider(configuration: configuration, transport: transport, vendor: vendor)
        }
    }

    // MARK: The shared transport

    private static let shared = Mutex<HTTPTransport?>(nil)

    /// The process-wide transport of ``ModelMesh/ProviderRegistry/builtIn``: created on first
    /// use, one connection pool for every provider and every mesh of the process.
    ///
    /// One per process rather than one per registry value: a registry is a value that is
    /// copied freely and has no end of life, so it cannot own a client that must be shut
    /// down; a single pool also lets every mesh reuse the same connections.
    public static var sharedTransport: HTTPTransport {
        shared.withLock { transport in
            if let transport { return transport }
            let created = HTTPTransport()
            transport = created
            return created
        }
    }

    /// Shuts down the shared transport, if it was created, closing its connections.
    ///
    /// Call it once at exit, after ``ModelMesh/Mesh/shutdown()``. Connectors built before keep
    /// the closed transport and fail with an error; the next connector built through
    /// ``ModelMesh/ProviderRegistry/builtIn`` gets a fresh transport.
    public static func shutdown() async throws {
        let transport = shared.withLock { transport in
            defer { transport = nil }
            return transport
        }
        try await transport?.shutdown()
    }

    // MARK: Vendor tables

    /// The list price of a vendor's default model, in USD per million tokens, or `nil` when
    /// the table does not know it.
    public static func defaultPricing(connector: String, wireName: String) -> ModelPricing? {
        defaultModel(connector: connector, wireName: wireName)?.pricing
    }

    /// The default model entry of a vendor (context window, output limit, features, price),
    /// if known. Covers the OpenAI-compatible family, Anthropic and Gemini.
    public static func defaultModel(connector: String, wireName: String) -> OpenAICompatibleModel? {
        if let vendor = OpenAICompatibleVendor.vendor(forConnector: connector) { return vendor.model(wireName) }
        let name = wireName.hasPrefix("models/") ? String(wireName.dropFirst("models/".count)) : wireName
        return defaultModels(connector: connector, providerID: "p").first { $0.name == name }.map { model in
            OpenAICompatibleModel(
                wireName: model.name, capabilities: model.capabilities, contextWindow: model.contextWindow,
                maxOutputTokens: model.maxOutputTokens, pricing: model.pricing, features: model.features)
        }
    }

    /// The models a provider of `connector` serves by default, as model configurations with
    /// ids `<providerID>.<wire name>`; empty for an unknown connector.
    public static func defaultModels(connector: String, providerID: String) -> [ModelConfiguration] {
        switch VendorCatalogue.vendor(forConnector: connector)?.family {
        case .anthropic:
            return AnthropicModels.defaults(providerID: providerID)
        case .gemini:
            return GeminiModels.defaults(providerID: providerID)
        case .openAI, nil:
            guard let vendor = OpenAICompatibleVendor.vendor(forConnector: connector) else { return [] }
            return vendor.defaultModels.map { model in
                ModelConfiguration(
                    id: "\(providerID).\(model.wireName)", name: model.wireName, provider: providerID,
                    capabilities: model.capabilities, features: model.features, contextWindow: model.contextWindow,
                    maxOutputTokens: model.maxOutputTokens, pricing: model.pricing)
            }
        }
    }

    /// Fills what the configuration leaves out of each model from the vendor tables: a model
    /// without `pricing`, `context_window`, `max_output_tokens` or `features` gets the values
    /// of the vendor's default model with the same wire name. Values that are set are kept.
    ///
    /// The engine knows no vendor tables, so whoever builds providers calls this before
    /// creating the mesh (the `modelmesh` command does; library users should too, or costs
    /// of models without configured pricing are counted as zero).
    ///
    /// - Returns: The ids of the models that received at least one value.
    @discardableResult
    public static func applyDefaults(to configuration: inout MeshConfiguration) -> [String] {
        let connectors = Dictionary(
            configuration.providers.map { ($0.id, $0.connector) }, uniquingKeysWith: { first, _ in first })
        var filled: [String] = []
        for index in configuration.models.indices {
            var model = configuration.models[index]
            guard let connector = connectors[model.provider],
                let defaults = defaultModel(connector: connector, wireName: model.name)
            else { continue }
            var changed = false
            if model.pricing == nil, let pricing = defaults.pricing {
                model.pricing = pricing
                changed = true
            }
            if model.contextWindow == nil, let window = defaults.contextWindow {
                model.contextWindow = window
                changed = true
            }
            if model.maxOutputTokens == nil, let maxOutput = defaults.maxOutputTokens {
                model.maxOutputTokens = maxOutput
                changed = true
            }
            if model.features.isEmpty, !defaults.features.isEmpty {
                model.features = defaults.features
                changed = true
            }
            if changed {
                configuration.models[index] = model
                filled.append(model.id)
            }
        }
        return filled
    }

    /// The configuration ``ModelMesh/ProviderAutoDetection`` derives from `environment`, with
    /// the vendor defaults applied (``applyDefaults(to:)``) and base URL overrides read from
    /// each vendor's ``ModelMesh/VendorCatalogue/Entry/baseURLVariables`` (`OPENAI_BASE_URL`,
    /// `ANTHROPIC_BASE_URL`, `GEMINI_BASE_URL` or `GOOGLE_BASE_URL`, ...), as the vendors' own
    /// SDKs do. `nil` when nothing is detected.
    ///
    /// ```swift
    /// guard let configuration = BuiltInProviders.autodetectedConfiguration() else { return }
    /// let mesh = try Mesh(configuration: configuration, providers: .builtIn)
    /// ```
    public static func autodetectedConfiguration(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> MeshConfiguration? {
        guard var configuration = ProviderAutoDetection.configuration(environment: environment) else { return nil }
        for index in configuration.providers.indices {
            let id = configuration.providers[index].id
            let variables = VendorCatalogue.vendor(named: id)?.baseURLVariables ?? [id.uppercased() + "_BASE_URL"]
            let override = variables.lazy.compactMap { environment[$0]?.trimmingCharacters(in: .whitespaces) }
                .first { !$0.isEmpty }
            if let override { configuration.providers[index].baseURL = override }
        }
        applyDefaults(to: &configuration)
        return configuration
    }
}

import Foundation
import ModelMesh

extension ProviderRegistry {
    /// A registry that builds every built-in connector: the OpenAI-compatible family
    /// (`openai.llm.v1`, `groq.api.v1`, ..., `openai-compatible.llm.v1`), Anthropic
    /// (`anthropic.claude.v1`, alias `anthropic.llm.v1`) and Gemini (`google.gemini.v1`);
    /// and with them every observability connector a configuration may name
    /// (``ObservabilityRegistry/standard``).
    ///
    /// Every connector it builds sends through ``BuiltInProviders/sharedTransport``, the one
    /// process-wide connection pool, created when the first connector is built. Shut it down
    /// at exit with ``BuiltInProviders/shutdown()``.
    ///
    /// ```swift
    /// let mesh = try Mesh(configuration: configuration, providers: .builtIn)
    /// ```
    public static var builtIn: ProviderRegistry {
        builtIn(transport: { BuiltInProviders.sharedTransport }, baseURLs: [:])
    }

    /// A registry of every built-in connector over a transport the caller owns (and shuts
    /// down), optionally sending some providers to other base URLs.
    ///
    /// - Parameters:
    ///   - transport: The transport of every connector built.
    ///   - baseURLs: Base URLs by provider id, replacing the configured or default one (to
    ///     point auto-detected providers at a gateway, a recorder or a ``ModelMeshTesting``
    ///     fake upstream).
    ///
    /// ```swift
    /// let registry = ProviderRegistry.builtIn(transport: transport, baseURLs: ["openai": fake.url("/v1")])
    /// let mesh = try Mesh.autodetected(providers: registry, environment: ["OPENAI_API_KEY": "sk-test"])
    /// ```
    public static func builtIn(transport: HTTPTransport, baseURLs: [String: String] = [:]) -> ProviderRegistry {
        builtIn(transport: { transport }, baseURLs: baseURLs)
    }

    private static func builtIn(transport: @escaping @Sendable () -> HTTPTransport, baseURLs: [String: String])
        -> ProviderRegistry
    {
        var registry = ProviderRegistry()
        registry.observability = .standard
        for connector in BuiltInProviders.connectorIDs {
            registry.register(connector: connector) { configuration in
                var configuration = configuration
                if let baseURL = baseURLs[configuration.id] { configuration.baseURL = baseURL }
                guard let provider = try BuiltInProviders.make(configuration, transport: transport()) else {
                    throw ProviderSetupError(
                        code: "unknown_connector", providerID: configuration.id,
                        message: "connector \(configuration.connector) is not built in",
                        hint: "Known connectors: \(BuiltInProviders.connectorIDs.sorted().joined(separator: ", "))")
                }
                return provider
            }
        }
        return registry
    }
}

extension Mesh {
    /// A mesh over the providers found in the environment (API-key variables, local
    /// hosts, `<PROVIDER>_BASE_URL` overrides), with the built-in connectors and the vendors'
    /// default pricing, context windows and features filled in.
    ///
    /// - Throws: a ``ModelMeshError`` naming the variables to set when nothing is detected.
    public static func autodetected(
        providers: ProviderRegistry = .builtIn, environment: [String: String] = ProcessInfo.processInfo.environment,
        connectors: [any ObservabilityConnector] = []
    ) throws -> Mesh {
        guard let configuration = BuiltInProviders.autodetectedConfiguration(environment: environment) else {
            throw ModelMeshError(
                .invalidRequest, "No provider detected in the environment",
                hint: "Set an API key variable such as OPENAI_API_KEY or ANTHROPIC_API_KEY, or OLLAMA_HOST "
                    + "for a local Ollama, or pass a configuration")
        }
        return try Mesh(configuration: configuration, providers: providers, connectors: connectors)
    }
}

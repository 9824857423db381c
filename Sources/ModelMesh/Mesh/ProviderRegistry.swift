/// Builds provider connectors from configuration, by connector ID.
///
/// The engine ships no vendor wire code; `ModelMeshProviders` registers the HTTP
/// connectors, tests register mocks, and users may add their own.
public struct ProviderRegistry: Sendable {
    public typealias Factory = @Sendable (ProviderConfiguration) throws -> any ProviderConnector

    private var factories: [String: Factory] = [:]
    private var instances: [String: any ProviderConnector] = [:]
    /// The observability connectors that come with these providers, for the connectors a
    /// configuration names. The engine's own by default; `ProviderRegistry.builtIn` adds the
    /// webhook and Prometheus connectors, so a mesh built with it accepts every connector
    /// `modelmesh validate` does.
    public var observability: ObservabilityRegistry = .builtIn
    /// Builds the store of `storage.connector: modelmesh.postgres.v1`: set it to
    /// `PostgresStateStore.factory` from `ModelMeshPostgres` (the `modelmesh` program does).
    public var sharedStateStore: SharedStateStoreFactory?

    public init() {}

    /// Registers a factory for a connector ID (e.g. `openai.llm.v1`).
    public mutating func register(connector id: String, factory: @escaping Factory) {
        factories[ConnectorID.normalize(id)] = factory
    }

    /// Registers a ready-made connector for one provider id; it wins over any factory.
    public mutating func register(provider id: String, instance: any ProviderConnector) {
        instances[id] = instance
    }

    /// Whether a connector ID can be built.
    public func canBuild(connector id: String) -> Bool { factories[ConnectorID.normalize(id)] != nil }

    /// The connector IDs with a factory.
    public var connectorIDs: Set<String> { Set(factories.keys) }

    /// The connector for a provider, or an error naming what is missing.
    public func make(_ provider: ProviderConfiguration) throws -> any ProviderConnector {
        if let instance = instances[provider.id] { return instance }
        guard let factory = factories[ConnectorID.normalize(provider.connector)] else {
            throw ModelMeshError(
                .invalidRequest,
                "Provider '\(provider.id)' uses the connector '\(provider.connector)', which is not available",
                hint: "Known connectors: \(factories.keys.sorted().joined(separator: ", ")). "
                    + "HTTP connectors come with ModelMeshProviders (ProviderRegistry.builtIn)")
        }
        return try factory(provider)
    }
}

/// Builds observability connectors from configuration, by connector ID.
///
/// ``builtIn`` knows the connectors of the engine (console, local file, null; the callback
/// connector only from code). Other modules add theirs with ``register(id:factory:)``; the
/// webhook and Prometheus connectors register themselves this way.
///
/// ```swift
/// var registry = ObservabilityRegistry.builtIn
/// registry.register(id: "acme.audit.v1") { config in try AuditConnector(settings: config.settings) }
/// for (connector, events) in try registry.makeConnectors(for: configuration.observability) {
///     emitter.subscribe(connector, events: events)
/// }
/// ```
public struct ObservabilityRegistry: Sendable {
    /// Builds one connector from its configuration entry.
    public typealias Factory = @Sendable (ObservabilityConnectorConfiguration) throws -> any ObservabilityConnector

    private var factories: [String: Factory] = [:]

    /// An empty registry.
    public init() {}

    /// A registry with the connectors built into the engine.
    public static var builtIn: ObservabilityRegistry {
        var registry = ObservabilityRegistry()
        registry.register(id: ConsoleConnector.id) { try ConsoleConnector(configuration: $0) }
        registry.register(id: LocalFileConnector.id) { try LocalFileConnector(configuration: $0) }
        registry.register(id: NullConnector.id) { _ in NullConnector() }
        registry.register(id: CallbackConnector.id) { configuration in
            throw ObservabilityError(
                .notConfigurable, connectorID: configuration.connector,
                "The callback connector wraps a Swift closure and cannot be built from a configuration file",
                hint: "subscribe a CallbackConnector to the EventEmitter in code, "
                    + "or register a factory for '\(CallbackConnector.id)' that returns one")
        }
        return registry
    }

    /// Registers (or replaces) the factory for connector `id`.
    ///
    /// IDs are compared in their short form, so `observability.acme.audit.v1` and
    /// `acme.audit.v1` are the same connector.
    public mutating func register(id: String, factory: @escaping Factory) {
        factories[ConnectorID.normalize(id)] = factory
    }

    /// The registered connector IDs, sorted.
    public var knownIDs: [String] { factories.keys.sorted() }

    /// Whether a factory is registered for `id`.
    public func contains(_ id: String) -> Bool { factories[ConnectorID.normalize(id)] != nil }

    /// Builds one connector.
    ///
    /// - Throws: ``ObservabilityError`` `unknown_observability_connector` naming the ID and the
    ///   known ones, or whatever the connector's factory throws.
    public func makeConnector(
        _ configuration: ObservabilityConnectorConfiguration
    ) throws -> any ObservabilityConnector {
        guard let factory = factories[ConnectorID.normalize(configuration.connector)] else {
            throw ObservabilityError(
                .unknownConnector, connectorID: configuration.connector,
                "Unknown observability connector '\(configuration.connector)'",
                hint: "known connectors: \(knownIDs.joined(separator: ", "))")
        }
        return try factory(configuration)
    }

    /// Builds every connector of `configuration`, in order, each with its event filter
    /// (`nil`: all event types), ready for ``EventEmitter/subscribe(_:events:)``.
    ///
    /// A connector whose configuration restricts what it receives (its channels, the trace
    /// severity floor, the request-log payload limit, the statistics scopes) comes wrapped in a
    /// ``FilteredConnector`` that applies the restriction; ``FilteredConnector/base`` is the
    /// connector itself. So a connector under `observability.routing` receives routing events
    /// only, and one under `observability.logging` request logs only.
    ///
    /// Fails on the first connector that cannot be built; the ones built before it are released
    /// (a file connector's writer thread ends when it is released).
    public func makeConnectors(
        for configuration: ObservabilityConfiguration
    ) throws -> [(any ObservabilityConnector, Set<EventType>?)] {
        try configuration.connectors.map { entry in
            let connector = try makeConnector(entry)
            return (FilteredConnector.wrap(connector, entry: entry, configuration: configuration), entry.events)
        }
    }
}

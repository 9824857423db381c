import Foundation
import ModelMesh

/// The observability connectors that live in the server layer (they need HTTP or a
/// metrics backend), by connector ID, for whoever builds connectors from configuration.
public enum ServerObservability {
    /// Builds a connector from its configuration settings.
    public typealias Factory = @Sendable ([String: JSONValue]) throws -> any ObservabilityConnector

    /// `modelmesh.webhook.v1` and `modelmesh.prometheus.v1`.
    public static let factories: [String: Factory] = [
        WebhookConnector.id: { try WebhookConnector.make(settings: $0) },
        PrometheusConnector.id: { try PrometheusConnector.make(settings: $0) },
    ]

    /// The connectors of `configuration` that this layer builds, each with its event filter.
    /// Connectors with other IDs are left to the engine's registry.
    ///
    /// The first `modelmesh.prometheus.v1` entry is returned separately: the proxy serves
    /// it at `GET /metrics`.
    public static func makeConnectors(_ configuration: ObservabilityConfiguration) throws -> (
        connectors: [(connector: any ObservabilityConnector, events: Set<EventType>?)],
        prometheus: PrometheusConnector?
    ) {
        var connectors: [(any ObservabilityConnector, Set<EventType>?)] = []
        var prometheus: PrometheusConnector?
        for entry in configuration.connectors {
            let id = ConnectorID.normalize(entry.connector)
            guard let factory = factories[id] else { continue }
            let connector = try factory(entry.settings)
            if let p = connector as? PrometheusConnector, prometheus == nil {
                prometheus = p
                continue
            }
            connectors.append((connector, entry.events))
        }
        return (connectors, prometheus)
    }
}

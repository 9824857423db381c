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
}

extension ObservabilityRegistry {
    /// The engine's built-in connectors plus this layer's: `modelmesh.webhook.v1`, and
    /// `modelmesh.prometheus.v1` resolving to `metrics` (the instance `/metrics` serves).
    public static func withServerConnectors(metrics: PrometheusConnector) -> ObservabilityRegistry {
        var registry = ObservabilityRegistry.builtIn
        registry.register(id: WebhookConnector.id) { try WebhookConnector.make(settings: $0.settings) }
        registry.register(id: PrometheusConnector.id) { _ in metrics }
        return registry
    }
}

import Foundation
import ModelMesh

extension ObservabilityRegistry {
    /// Every observability connector a configuration file may name: the engine's console,
    /// local file and null connectors, plus `modelmesh.webhook.v1` and
    /// `modelmesh.prometheus.v1`. ``ProviderRegistry/builtIn`` carries it, so
    /// `Mesh(configurationFile:providers: .builtIn)` builds whatever `modelmesh validate`
    /// accepts.
    public static var standard: ObservabilityRegistry {
        var registry = ObservabilityRegistry.builtIn
        registry.register(id: WebhookConnector.id) { try WebhookConnector.make(settings: $0.settings) }
        registry.register(id: PrometheusConnector.id) { try PrometheusConnector.make(settings: $0.settings) }
        return registry
    }

    /// ``standard``, with `modelmesh.prometheus.v1` resolving to `metrics`: the instance the
    /// proxy serves at `/metrics`.
    public static func standard(metrics: PrometheusConnector) -> ObservabilityRegistry {
        var registry = standard
        registry.register(id: PrometheusConnector.id) { _ in metrics }
        return registry
    }
}

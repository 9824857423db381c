import Foundation

/// OTLP trace export: `observability.tracing` with `connector: modelmesh.otel.v1`.
///
/// ```yaml
/// observability:
///   tracing:
///     connector: modelmesh.otel.v1
///     endpoint: http://otel-collector:4318
///     protocol: http/protobuf
///     headers: {Authorization: "Bearer ${OTEL_TOKEN}"}
///     sample_ratio: 0.25
///     service_name: modelmesh
/// ```
///
/// `modelmesh serve` exports with it; in-process, pass it to `ModelMeshOTel`'s
/// `TraceExporter`. Built only with the `OpenTelemetry` package trait (on by default).
public struct TraceExportConfiguration: Sendable, Equatable {
    /// The connector ID in YAML.
    public static let connectorID = "modelmesh.otel.v1"

    /// How spans are sent to the collector.
    public enum ExportProtocol: String, Sendable, CaseIterable {
        /// OTLP/HTTP with protobuf bodies (the collector's default on port 4318).
        case httpProtobuf = "http/protobuf"
        /// OTLP/HTTP with JSON bodies.
        case httpJSON = "http/json"
    }

    /// The collector's base URL; spans go to `{endpoint}/v1/traces` (an endpoint already
    /// ending in `/v1/traces` is used as is).
    public var endpoint: String = "http://localhost:4318"
    public var exportProtocol: ExportProtocol = .httpProtobuf
    /// Headers sent with every export (e.g. an authorization token); values are secrets.
    public var headers: [String: Secret] = [:]
    /// The share of new traces recorded, in `0...1`; a continued trace follows its
    /// caller's sampling decision.
    public var sampleRatio: Double = 1
    /// The `service.name` resource attribute.
    public var serviceName: String = "modelmesh"

    public init() {}

    /// Where the exporter posts spans.
    public var tracesURL: String {
        if endpoint.hasSuffix("/v1/traces") { return endpoint }
        return endpoint.hasSuffix("/") ? endpoint + "v1/traces" : endpoint + "/v1/traces"
    }
}

extension TraceExportConfiguration: CustomStringConvertible, CustomDebugStringConvertible {
    // Header values may be tokens: only their names are shown.
    public var description: String {
        "TraceExportConfiguration(endpoint: \(endpoint), protocol: \(exportProtocol.rawValue), "
            + "headers: \(headers.keys.sorted()), sampleRatio: \(sampleRatio), serviceName: \(serviceName))"
    }

    public var debugDescription: String { description }
}

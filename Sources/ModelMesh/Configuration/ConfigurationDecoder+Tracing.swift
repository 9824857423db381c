import Foundation
import Yams

extension ConfigurationDecoder {
    /// Keys of `observability.tracing` with the `modelmesh.otel.v1` connector.
    private static let traceExportKeys = [
        "connector", "endpoint", "protocol", "headers", "sample_ratio", "service_name", "min_severity",
    ]

    /// Whether this build exports traces (the `OpenTelemetry` package trait).
    static var tracesExportBuiltIn: Bool {
        #if OpenTelemetry
            true
        #else
            false
        #endif
    }

    /// Decodes `observability.tracing` when its connector is `modelmesh.otel.v1` into
    /// `result.tracing`; returns false, reporting nothing, for any other connector.
    mutating func decodeTraceExport(_ map: YAMLMapping, into result: inout ObservabilityConfiguration) -> Bool {
        guard let field = map["connector"], case .scalar(let scalar) = field.node,
            ConnectorID.normalize(scalar.string.trimmingCharacters(in: .whitespaces))
                == TraceExportConfiguration.connectorID
        else { return false }
        guard Self.tracesExportBuiltIn else {
            report(
                .notSupported, at: field.path,
                "Connector \(TraceExportConfiguration.connectorID) is not part of this build of ModelMesh",
                hint: "Build with the OpenTelemetry package trait: `swift build --traits OpenTelemetry` "
                    + "(it is on by default; --disable-default-traits leaves it out)",
                mark: field.node.mark)
            return true
        }
        checkKeys(map, known: Self.traceExportKeys, in: "observability.tracing")
        var export = TraceExportConfiguration()
        if let entry = map["endpoint"], let url = string(entry) {
            if Self.isCollectorURL(url) {
                export.endpoint = url
            } else {
                report(
                    .invalidValue, at: entry.path,
                    "Expected an http or https URL with a host, got '\(scalarText(entry))'",
                    hint: "Write the collector's OTLP/HTTP address, e.g. http://otel-collector:4318",
                    mark: entry.node.mark)
            }
        }
        if let entry = map["protocol"], let name = string(entry) {
            let wanted = name.trimmingCharacters(in: .whitespaces).lowercased()
            let known = TraceExportConfiguration.ExportProtocol.allCases.map(\.rawValue)
            if let value = TraceExportConfiguration.ExportProtocol(rawValue: wanted) {
                export.exportProtocol = value
            } else if wanted == "grpc" {
                report(
                    .notSupported, at: entry.path, "'protocol: grpc' in observability.tracing is not supported",
                    hint: "ModelMesh exports over OTLP/HTTP: use http/protobuf (port 4318) or http/json",
                    mark: entry.node.mark)
            } else {
                report(
                    .invalidValue, at: entry.path, "Unknown OTLP protocol '\(scalarText(entry))'",
                    hint: NameSuggestion.hint(
                        for: wanted, in: known, otherwise: "Use one of: \(known.joined(separator: ", "))"),
                    mark: entry.node.mark)
            }
        }
        if let entry = map["headers"], let headers = mapping(entry) {
            for header in headers.entries {
                guard let value = secret(header) else { continue }
                if header.key.isEmpty || header.key.contains(where: { $0 == " " || $0 == ":" }) {
                    report(
                        .invalidValue, at: header.path, "'\(header.key)' is not an HTTP header name",
                        hint: "Use a name such as Authorization or X-Api-Key", mark: header.keyMark)
                    continue
                }
                export.headers[header.key] = value
            }
        }
        if let ratio = number(map["sample_ratio"], min: 0, max: 1) { export.sampleRatio = ratio }
        if let entry = map["service_name"], let name = string(entry) {
            if name.trimmingCharacters(in: .whitespaces).isEmpty {
                report(
                    .invalidValue, at: entry.path, "'service_name' is empty",
                    hint: "Name the service as traces should show it, e.g. modelmesh", mark: entry.node.mark)
            } else {
                export.serviceName = name
            }
        }
        result.traceMinSeverity = choice(map["min_severity"], TraceSeverity.self) ?? result.traceMinSeverity
        result.tracing = export
        return true
    }

    /// The value as written in the file (never a resolved secret).
    private func scalarText(_ entry: Entry) -> String {
        if case .scalar(let scalar) = entry.node { return scalar.string }
        return ""
    }

    /// An absolute http(s) URL with a host.
    static func isCollectorURL(_ text: String) -> Bool {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else { return false }
        return true
    }
}

import Logging
import ModelMesh
import ServiceLifecycle
import Tracing

#if OpenTelemetry
    import ModelMeshOTel
#endif

extension ServeCommand {
    /// The OTLP exporter `observability.tracing` configures: the tracer for the proxy and
    /// the service that exports (and at shutdown flushes) its spans. Nothing when unset.
    static func traceExport(_ configuration: MeshConfiguration, logger: Logger) throws
        -> (tracer: (any Tracer)?, services: [any Service])
    {
        #if OpenTelemetry
            guard let tracing = configuration.observability.tracing else { return (nil, []) }
            let exporter = try TraceExporter(configuration: tracing)
            logger.info(
                "Exporting traces over OTLP/HTTP",
                metadata: ["endpoint": "\(tracing.tracesURL)", "sample_ratio": "\(tracing.sampleRatio)"])
            return (exporter.tracer, [exporter.service])
        #else
            // Validation rejects `observability.tracing` without the trait; nothing to set up.
            return (nil, [])
        #endif
    }
}

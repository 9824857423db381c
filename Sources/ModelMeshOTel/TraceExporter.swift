#if OpenTelemetry
    import Logging
    import ModelMesh
    import OTel
    import ServiceLifecycle
    import Tracing

    /// OTLP/HTTP export of a mesh's spans, set up from ``TraceExportConfiguration``
    /// (`observability.tracing` with `connector: modelmesh.otel.v1`), with swift-otel.
    ///
    /// It makes a tracer and the background service that batches and sends its spans. Run
    /// the service in your `ServiceGroup` (its graceful shutdown flushes what is buffered) and
    /// hand the tracer to the proxy, to each request, or to the whole process:
    ///
    /// ```swift
    /// let exporter = try TraceExporter(configuration: mesh.configuration.observability.tracing!)
    /// // The proxy: its request and attempt spans go to the exporter.
    /// var options = ProxyServer.Options()
    /// options.tracer = exporter.tracer
    /// let proxy = ProxyServer(mesh: mesh, options: options)
    /// try await proxy.makeServiceGroup(services: [exporter.service]).run()
    ///
    /// // In-process: bootstrap once, then every `mesh.chat.completions.create` is traced.
    /// InstrumentationSystem.bootstrap(exporter.tracer)
    /// ```
    ///
    /// The standard `OTEL_*` environment variables (e.g. `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
    /// override the configuration, as in every OpenTelemetry SDK.
    public struct TraceExporter: Sendable {
        /// The tracer whose spans are exported.
        public let tracer: any Tracer
        /// Batches and exports the spans; run it until shutdown.
        public let service: any Service

        /// Makes the tracer and its exporting service.
        ///
        /// - Parameters:
        ///   - configuration: the collector, protocol, headers, sampling and service name.
        ///   - exportInterval: how long finished spans wait to be sent in one batch.
        ///   - logger: where export failures are logged (never with the configured headers).
        /// - Throws: when swift-otel refuses the configuration.
        public init(
            configuration: TraceExportConfiguration, exportInterval: Duration = .seconds(5),
            logger: Logger = Logger(label: "modelmesh.otel")
        ) throws {
            var otel = OTel.Configuration.default
            otel.serviceName = configuration.serviceName
            otel.diagnosticLogger = .custom(logger)
            otel.logs.enabled = false
            otel.metrics.enabled = false
            otel.traces.enabled = true
            otel.traces.exporter = .otlp
            otel.traces.otlpExporter.endpoint = configuration.tracesURL
            otel.traces.otlpExporter.protocol =
                switch configuration.exportProtocol {
                case .httpProtobuf: .httpProtobuf
                case .httpJSON: .httpJSON
                }
            otel.traces.otlpExporter.headers = configuration.headers.sorted { $0.key < $1.key }.map {
                ($0.key, $0.value.value)
            }
            // A trace continued from a caller keeps the caller's decision; new traces are sampled at the ratio.
            otel.traces.sampler = .parentBasedTraceIDRatio(ratio: configuration.sampleRatio) ?? .parentBasedAlwaysOn
            otel.traces.batchSpanProcessor.scheduleDelay = exportInterval
            let backend = try OTel.makeTracingBackend(configuration: otel)
            tracer = backend.factory
            service = backend.service
        }
    }
#endif

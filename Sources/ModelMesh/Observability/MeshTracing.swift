import Tracing

/// Distributed tracing of routed requests, with swift-distributed-tracing.
///
/// A routed request gets a span (`chat {model}` or `embeddings {model}`) with one child
/// span per upstream attempt, named after the OpenTelemetry GenAI conventions; the routing
/// events of the request (rotation, deactivation, …) become span events. The spans go to
/// ``RoutingOptions/tracer`` when it is set, else to the tracer bootstrapped with
/// `InstrumentationSystem.bootstrap(_:)`, e.g. swift-otel's:
///
/// ```swift
/// let (tracer, exporter) = try OTel.makeTracingBackend(configuration: otelConfiguration)
/// InstrumentationSystem.bootstrap(tracer)
/// // Run `exporter` in your ServiceGroup so spans are exported and flushed at shutdown.
/// let reply = try await mesh.chat.completions.create(request)
/// ```
///
/// With no tracer, nothing is created: the request path checks for one once per request.
/// `modelmesh serve` configures export from `observability.tracing` (the `ModelMeshOTel`
/// module).
public enum MeshTracing {
    /// The tracer a request's spans go to: `explicit`, else the bootstrapped one; `nil`
    /// when tracing is off (no tracer, or a no-op one).
    public static func tracer(_ explicit: (any Tracer)?) -> (any Tracer)? {
        // The common case, nothing bootstrapped, settled by a concrete type check instead of
        // the tracer lookup's protocol casts.
        if explicit == nil, InstrumentationSystem.instrument is NoOpInstrument { return nil }
        let tracer = explicit ?? InstrumentationSystem.tracer
        return tracer is NoOpTracer ? nil : tracer
    }

    /// Writes the trace context of the upstream attempt under way in this task (a W3C
    /// `traceparent`, with the bootstrapped propagators) into `carrier`. Does nothing when
    /// the request is not traced.
    ///
    /// Provider transports call this for every upstream HTTP request, so the upstream's
    /// spans join the request's trace under the attempt span.
    public static func injectAttemptContext<Carrier, Inject: Injector>(
        into carrier: inout Carrier, using injector: Inject
    ) where Inject.Carrier == Carrier {
        guard let active = ActiveSpan.current else { return }
        active.tracer.inject(active.span.context, into: &carrier, using: injector)
    }
}

/// The span work in this task reports to, with the tracer that made it.
struct ActiveSpan: Sendable {
    let tracer: any Tracer
    let span: any Span

    /// Set only while a traced request runs, so the check costs one task-local read.
    @TaskLocal static var current: ActiveSpan?

    /// Runs `operation` with this span active, both for ModelMesh (events, propagation)
    /// and for other instrumented code (`InstrumentationContext.current`).
    func run<T>(_ operation: () async throws -> T) async rethrows -> T {
        try await Self.$current.withValue(self) {
            try await InstrumentationContext.$current.withValue(span.context, operation: operation)
        }
    }

    /// Adds a routing event of the request to the active span.
    static func record(_ event: RoutingEvent) {
        guard let active = current else { return }
        var attributes: SpanAttributes = [:]
        if let model = event.modelID { attributes["modelmesh.model"] = model }
        if let provider = event.providerID { attributes["modelmesh.provider"] = provider }
        if let pool = event.poolID { attributes["modelmesh.pool"] = pool }
        for (key, value) in event.metadata {
            switch value {
            case .string(let text): attributes["modelmesh.\(key)"] = text
            case .int(let number): attributes["modelmesh.\(key)"] = number
            case .double(let number): attributes["modelmesh.\(key)"] = number
            case .bool(let flag): attributes["modelmesh.\(key)"] = flag
            default: continue
            }
        }
        active.span.addEvent(SpanEvent(name: event.eventType.rawValue, attributes: attributes))
    }
}

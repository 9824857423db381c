import HTTPTypes
import Hummingbird
import ModelMesh
import Tracing

extension ProxyHandlers {
    /// The routing options of a proxied request: its id and, when traced, a server span that
    /// continues the trace of the client's `traceparent`.
    func routingOptions(_ request: Request, context: ProxyRequestContext) -> RoutingOptions {
        var options = RoutingOptions(requestID: context.requestID)
        guard let tracer = MeshTracing.tracer(tracer) else { return options }
        options.tracer = tracer
        options.spanKind = .server
        var trace = InstrumentationContext.topLevel
        tracer.extract(request.headers, into: &trace, using: TraceHeadersExtractor())
        options.traceContext = trace
        return options
    }
}

/// Reads trace context headers (`traceparent`, `tracestate`) from a client's request.
struct TraceHeadersExtractor: Extractor {
    func extract(key: String, from headers: HTTPFields) -> String? {
        HTTPField.Name(key).flatMap { headers[$0] }
    }
}

import NIOHTTP1
import Tracing

/// Writes trace context headers (`traceparent`, `tracestate`) into an upstream request.
struct TraceHeadersInjector: Injector {
    func inject(_ value: String, forKey key: String, into headers: inout HTTPHeaders) {
        headers.replaceOrAdd(name: key, value: value)
    }
}

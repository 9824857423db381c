import Synchronization
import Tracing

/// A tracer whose spans record their name, attributes, events and status like an SDK's
/// would, then are dropped when they end: it times what tracing costs the routing path,
/// without an exporter.
struct DiscardingTracer: Tracer {
    final class Span: Tracing.Span {
        private struct State {
            var name: String
            var attributes: SpanAttributes = [:]
            var events: [SpanEvent] = []
            var status: SpanStatus?
        }

        let context: InstrumentationContext
        private let state: Mutex<State>

        init(name: String, context: InstrumentationContext) {
            self.context = context
            state = Mutex(State(name: name))
        }

        var operationName: String {
            get { state.withLock { $0.name } }
            set { state.withLock { $0.name = newValue } }
        }

        var attributes: SpanAttributes {
            get { state.withLock { $0.attributes } }
            set { state.withLock { $0.attributes = newValue } }
        }

        var isRecording: Bool { true }

        func setStatus(_ status: SpanStatus) { state.withLock { $0.status = status } }
        func addEvent(_ event: SpanEvent) { state.withLock { $0.events.append(event) } }
        func addLink(_ link: SpanLink) {}

        func recordError<Instant: TracerInstant>(
            _ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant
        ) {
            addEvent(SpanEvent(name: "exception", attributes: attributes))
        }

        func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {}
    }

    func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> InstrumentationContext, ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
    ) -> Span {
        Span(name: operationName, context: context())
    }

    func activeSpan(identifiedBy context: InstrumentationContext) -> Span? { nil }

    func forceFlush() {}

    func inject<Carrier, Inject: Injector>(
        _ context: InstrumentationContext, into carrier: inout Carrier, using injector: Inject
    ) where Inject.Carrier == Carrier {}

    func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier, into context: inout InstrumentationContext, using extractor: Extract
    ) where Extract.Carrier == Carrier {}
}

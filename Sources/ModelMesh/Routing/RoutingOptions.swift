import Foundation
import Tracing

/// Per-request routing options.
public struct RoutingOptions: Sendable {
    /// The request id used in events, logs and headers (generated when nil).
    public var requestID: String?
    /// Affinity key for session-stickiness (else `metadata.session_id`, else `user`).
    public var sessionKey: String?
    /// Where the request's spans go; `nil`: the tracer bootstrapped with
    /// `InstrumentationSystem`, if any (see ``MeshTracing``).
    public var tracer: (any Tracer)?
    /// The trace the request continues, e.g. one extracted from a client's `traceparent`;
    /// `nil`: `InstrumentationContext.current`.
    public var traceContext: InstrumentationContext?
    /// The kind of the request span: `.server` when it stands for an incoming HTTP request.
    public var spanKind: SpanKind = .internal
    /// The caller already ran ``Mesh``'s request checks (the proxy does, to word its 400s):
    /// they are not run twice.
    package var requestChecked = false

    public init(requestID: String? = nil, sessionKey: String? = nil) {
        self.requestID = requestID
        self.sessionKey = sessionKey
    }
}

/// A routed answer and how it was obtained.
public struct Routed<Value: Sendable>: Sendable {
    /// The answer (for a relayed answer, decoded from ``body`` on first use).
    public var value: Value {
        get { deferredValue.value }
        set { deferredValue = Deferred(newValue) }
    }
    var deferredValue: Deferred<Value>
    public var requestID: String
    public var poolID: String
    public var modelID: String
    public var providerID: String
    /// Every attempt, the successful last one included.
    public var attempts: [AttemptRecord]
    /// `value` as OpenAI JSON, exactly as the upstream sent it, when the connector passed the
    /// body through (see ``ProviderCompletion/body``); `nil` otherwise.
    public var body: Data? = nil

    init(
        value: Deferred<Value>, requestID: String, poolID: String, modelID: String, providerID: String,
        attempts: [AttemptRecord], body: Data? = nil
    ) {
        self.deferredValue = value
        self.requestID = requestID
        self.poolID = poolID
        self.modelID = modelID
        self.providerID = providerID
        self.attempts = attempts
        self.body = body
    }
}

/// A routed stream: returned once the first chunk arrived, so every failure before that
/// was handled (retried or rotated) without the caller seeing it.
public struct RoutedStream: Sendable {
    public var requestID: String
    public var poolID: String
    /// The model that produced the first chunk.
    public var modelID: String
    public var providerID: String
    /// Attempts made before the first chunk.
    public var attempts: [AttemptRecord]
    /// The chunks. A stream broken after output began either continues on another model
    /// (`mid_stream: continue`) or ends by throwing a ``ModelMeshError`` with code
    /// `stream_interrupted`; it never ends normally with a truncated answer.
    public var chunks: AsyncThrowingStream<ChatCompletionChunk, any Error>
}

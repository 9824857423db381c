import Foundation
import Tracing

/// The spans of one traced request: the request span, and a child span per upstream
/// attempt. Routing code holds it as an optional, `nil` when tracing is off, so an
/// untraced request creates no span objects.
///
/// Attribute names follow the OpenTelemetry GenAI semantic conventions (`gen_ai.*`);
/// routing details are under `modelmesh.*`.
struct RequestTrace: Sendable {
    let tracer: any Tracer
    let span: any Span

    /// The request span of a `chat` or `embeddings` request for `model` (the name the
    /// caller sent), or `nil` when no tracer is configured.
    static func start(_ operation: String, model: String, options: RoutingOptions) -> RequestTrace? {
        guard let tracer = MeshTracing.tracer(options.tracer) else { return nil }
        let parent = options.traceContext ?? InstrumentationContext.current ?? .topLevel
        let span = tracer.startSpan("\(operation) \(model)", context: parent, ofKind: options.spanKind)
        span.attributes["gen_ai.operation.name"] = operation
        span.attributes["gen_ai.request.model"] = model
        return RequestTrace(tracer: tracer, span: span)
    }

    /// Runs `operation` with the request span active; ends the span when `operation`
    /// throws, and also when it returns unless `endsOnReturn` is false (a stream ends it
    /// when the stream ends).
    static func run<T>(
        _ trace: RequestTrace?, endsOnReturn: Bool = true, _ operation: () async throws -> T
    ) async throws -> T {
        guard let trace else { return try await operation() }
        do {
            let value = try await ActiveSpan(tracer: trace.tracer, span: trace.span).run(operation)
            if endsOnReturn { trace.span.end() }
            return value
        } catch {
            trace.failed(error)
            throw error
        }
    }

    /// The request was answered by `model`.
    func answered(
        pool: String, model: ModelConfiguration, system: String?, usage: Usage?, finishReasons: [String],
        cost: Double?, attempts: Int
    ) {
        span.updateAttributes { attributes in
            attributes["modelmesh.pool"] = pool
            attributes["gen_ai.response.model"] = model.id
            if let system { attributes["gen_ai.system"] = system }
            attributes["modelmesh.provider"] = model.provider
            attributes["modelmesh.attempts"] = attempts
            if let usage {
                attributes["gen_ai.usage.input_tokens"] = usage.promptTokens
                attributes["gen_ai.usage.output_tokens"] = usage.completionTokens
            }
            if !finishReasons.isEmpty { attributes["gen_ai.response.finish_reasons"] = finishReasons }
            if let cost { attributes["modelmesh.cost_usd"] = cost }
        }
    }

    /// Ends the request span as failed.
    func failed(_ error: any Error) {
        let meshError = error as? ModelMeshError
        span.recordError(error)
        failed(
            code: meshError?.code.rawValue ?? (error is CancellationError ? "cancelled" : "error"),
            attempts: meshError?.attempts.count)
    }

    /// Ends the request span as failed with the error code `code`.
    func failed(code: String, attempts: Int?) {
        span.updateAttributes { attributes in
            attributes["error.type"] = code
            if let attempts { attributes["modelmesh.attempts"] = attempts }
        }
        span.setStatus(SpanStatus(code: .error, message: code))
        span.end()
    }

    /// Runs `operation` with the request span of `trace` active (no span: just runs it).
    static func during<T>(_ trace: RequestTrace?, _ operation: () async throws -> T) async rethrows -> T {
        guard let trace else { return try await operation() }
        return try await ActiveSpan(tracer: trace.tracer, span: trace.span).run(operation)
    }

    /// The child span of one upstream attempt.
    func startAttempt(
        model: ModelConfiguration, system: String?, pool: String, attempt: Int, number: Int, rotatedFrom: String?,
        reserved: Double
    ) -> AttemptSpan {
        let span = tracer.startSpan("chat \(model.name)", context: self.span.context, ofKind: .client)
        span.updateAttributes { attributes in
            attributes["gen_ai.operation.name"] =
                self.span.operationName.hasPrefix("embeddings") ? "embeddings" : "chat"
            attributes["gen_ai.request.model"] = model.name
            if let system { attributes["gen_ai.system"] = system }
            attributes["modelmesh.pool"] = pool
            attributes["modelmesh.model"] = model.id
            attributes["modelmesh.provider"] = model.provider
            // The attempt's place in the whole request, and its try on this model.
            attributes["modelmesh.attempt"] = number
            attributes["modelmesh.attempt.on_model"] = attempt
            if let rotatedFrom { attributes["modelmesh.rotated_from"] = rotatedFrom }
            if reserved > 0 { attributes["modelmesh.budget.reserved_usd"] = reserved }
        }
        return AttemptSpan(tracer: tracer, span: span)
    }
}

/// The span of one upstream attempt.
struct AttemptSpan: Sendable {
    let tracer: any Tracer
    let span: any Span

    /// Runs the attempt with this span active: routing events land on it and the upstream
    /// request carries its trace context.
    static func run<T>(_ attempt: AttemptSpan?, _ operation: () async throws -> T) async rethrows -> T {
        guard let attempt else { return try await operation() }
        return try await ActiveSpan(tracer: attempt.tracer, span: attempt.span).run(operation)
    }

    /// The upstream answered; `end` is false for a stream, whose span ends with the stream.
    func succeeded(responseModel: String?, usage: Usage?, finishReasons: [String], end: Bool = true) {
        span.updateAttributes { attributes in
            if let responseModel { attributes["gen_ai.response.model"] = responseModel }
            if let usage {
                attributes["gen_ai.usage.input_tokens"] = usage.promptTokens
                attributes["gen_ai.usage.output_tokens"] = usage.completionTokens
            }
            if !finishReasons.isEmpty { attributes["gen_ai.response.finish_reasons"] = finishReasons }
        }
        if end { span.end() }
    }

    /// The attempt failed with `failure`; the span ends.
    func failed(_ failure: ProviderError) {
        span.updateAttributes { attributes in
            attributes["error.type"] = failure.errorClass.rawValue
            attributes["modelmesh.error_class"] = failure.errorClass.rawValue
            if let status = failure.status { attributes["http.response.status_code"] = status }
        }
        span.setStatus(SpanStatus(code: .error, message: failure.errorClass.rawValue))
        span.end()
    }
}

extension RequestTrace {
    /// The `gen_ai.system` value of a provider connector, when its vendor is known.
    static func system(ofConnector connector: String?) -> String? {
        guard let connector, let vendor = VendorCatalogue.vendor(forConnector: connector) else { return nil }
        switch vendor.id {
        case "google": return "gcp.gemini"
        case "mistral": return "mistral_ai"
        default: return vendor.id
        }
    }
}

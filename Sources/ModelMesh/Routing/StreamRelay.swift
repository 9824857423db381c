import Foundation

/// The streaming failover state machine of one request, driven by the consumer's pulls.
///
/// Before the first chunk reached the caller every failure was handled by the attempt
/// loop. Afterwards, a cut, a stall or an upstream error either resumes on the next
/// prefill-capable model (`mid_stream: continue`) or ends the stream with a
/// `stream_interrupted` error (`mid_stream: fail`). The stream ends normally only when an
/// upstream ended normally, so a truncated answer is never presented as complete.
/// Pull-driven: nothing is read from upstream faster than the caller consumes.
///
/// Every stream settles exactly once: at its normal end, at a failure, when the caller's
/// task is cancelled, or, when the caller simply drops the stream without cancelling,
/// when the relay is released (its termination hook).
final class StreamRelay: @unchecked Sendable {
    typealias Segment = StreamRelayMachine.Segment

    private let router: Router
    private let request: ChatCompletionRequest
    private var journey: Router.Journey
    private var remaining: [SelectionCandidate]
    private var source: ChunkSource
    private var buffered: [ChatCompletionChunk]
    private var machine: StreamRelayMachine
    private let policy: StreamPolicy
    /// What the delivered chunks said, kept only when the request is traced.
    private var finishReasons: [String] = []
    private var responseModel: String?

    init(
        router: Router, request: ChatCompletionRequest, journey: Router.Journey, remaining: [SelectionCandidate],
        source: ChunkSource, firstChunks: [ChatCompletionChunk], segment: Segment
    ) {
        self.router = router
        self.request = request
        self.journey = journey
        self.remaining = remaining
        self.source = source
        buffered = firstChunks
        policy = journey.pool.configuration.stream
        machine = StreamRelayMachine(
            first: segment, streamID: firstChunks.first?.id ?? "chatcmpl-\(journey.requestID)",
            includeUsage: request.streamOptions?["include_usage"]?.boolValue == true, midStream: policy.midStream)
    }

    deinit {
        // The consumer let go of the stream without cancelling or reading to the end.
        finish(success: false, error: "The caller stopped reading the stream", status: 499)
    }

    var chunks: AsyncThrowingStream<ChatCompletionChunk, any Error> {
        AsyncThrowingStream(unfolding: { [self] in try await self.next() })
    }

    func next() async throws -> ChatCompletionChunk? {
        while true {
            if !buffered.isEmpty {
                if let chunk = machine.received(buffered.removeFirst()) { return delivered(chunk) }
                continue
            }
            if machine.state == .finished { return nil }
            let chunk: ChatCompletionChunk?
            do {
                chunk = try await source.next(timeout: policy.idleTimeout, what: "idle_timeout")
            } catch {
                // Rotations and attempts of the recovery belong to the request's span.
                try await RequestTrace.during(journey.trace) { try await recover(from: error) }
                continue
            }
            guard let chunk else {
                finish(success: true, error: nil)
                return nil
            }
            if let chunk = machine.received(chunk) { return delivered(chunk) }
        }
    }

    /// A failure after output began: resume on the next model that accepts an assistant
    /// prefill, or end with an in-band error naming the interruption.
    private func recover(from error: any Error) async throws {
        let failure = ProviderError.classify(error)
        journey.openAttempt?.failed(failure)
        journey.openAttempt = nil
        let current = machine.segments[machine.segments.count - 1].model
        if failure.errorClass == .cancelled || Task.isCancelled {
            finish(success: false, error: "cancelled", status: 499)
            throw CancellationError()
        }
        journey.lastError = failure
        journey.attempts.append(
            AttemptRecord(
                modelID: current.id, providerID: current.provider, errorClass: failure.errorClass.rawValue,
                status: failure.status, latencyMs: 0))
        router.health.failed(current, pool: journey.pool, error: failure)
        let resumable = remaining.filter { candidate in
            router.topology.models[candidate.modelID].map(router.health.acceptsPrefill) == true
        }
        guard case .resume(let delivered) = machine.failed(canResume: !resumable.isEmpty) else {
            finish(success: false, error: failure.description)
            throw interrupted(after: failure, resumeTried: nil)
        }
        var prefill = request
        prefill.messages.append(.assistant(delivered))
        journey.isContinuation = true
        let attemptsBefore = journey.attempts.count
        do {
            let opened = try await router.openStream(prefill, journey: &journey, chain: resumable)
            remaining = Array(resumable.drop { $0.modelID != opened.segment.model.id }.dropFirst())
            source = opened.source
            buffered = machine.resumed(on: opened.segment, first: opened.firstChunks)
        } catch {
            if Task.isCancelled {
                finish(success: false, error: "cancelled", status: 499)
                throw CancellationError()
            }
            let tried = journey.attempts.dropFirst(attemptsBefore).map(\.modelID)
            finish(success: false, error: failure.description)
            throw interrupted(after: failure, resumeTried: tried)
        }
    }

    /// The in-band error: it names the interruption itself, never a fallback's refusal
    /// of the continuation.
    private func interrupted(after failure: ProviderError, resumeTried: [String]?) -> ModelMeshError {
        var message = "The stream from \(machine.segments.last?.model.id ?? "the upstream") broke after output began "
            + "(\(failure.errorClass.rawValue): \(failure.message))"
        if let resumeTried {
            message += "; no other model could continue it"
            if !resumeTried.isEmpty { message += " (tried \(resumeTried.joined(separator: ", ")))" }
        }
        return ModelMeshError(
            .streamInterrupted, message,
            hint: policy.midStream == .fail
                ? "The pool's stream.mid_stream is 'fail'" : "Add a model with features.prefill to resume streams",
            poolID: journey.pool.id, attempts: journey.attempts)
    }

    /// Settles every segment's reservation and writes the request log, once.
    private func finish(success: Bool, error: String?, status: Int? = nil) {
        guard let settlement = machine.finish(success: success, error: error, status: status) else { return }
        var total = 0.0
        for segment in settlement.segments {
            let cost = segment.cost(callerLeft: status == 499)
            router.settle(segment.reservation, actual: cost)
            total += cost ?? 0
        }
        traceEnd(settlement, cost: total)
        router.recorder.logRequest(
            journey: journey, model: settlement.segments.last?.model, usage: settlement.segments.last?.usage,
            cost: total, streaming: true, error: settlement.error, status: settlement.status, prompt: request,
            response: settlement.deliveredText)
    }
}

extension StreamRelay {
    /// Notes what a chunk on its way to the caller says, when traced.
    private func delivered(_ chunk: ChatCompletionChunk) -> ChatCompletionChunk {
        guard journey.trace != nil else { return chunk }
        responseModel = chunk.model
        for choice in chunk.choices {
            if let reason = choice.finishReason { finishReasons.append(reason) }
        }
        return chunk
    }

    /// Ends the open attempt span and the request span with the stream's outcome.
    private func traceEnd(_ settlement: StreamRelayMachine.Settlement, cost: Double) {
        guard let trace = journey.trace else { return }
        let last = settlement.segments.last
        if settlement.success, let model = last?.model {
            router.traceAnswer(
                journey, model: model, responseModel: responseModel, usage: last?.usage,
                finishReasons: finishReasons, cost: cost)
            trace.span.end()
        } else {
            let errorClass: ProviderErrorClass = settlement.status == 499 ? .cancelled : .streamInterrupted
            journey.openAttempt?.failed(ProviderError(errorClass, message: settlement.error ?? errorClass.rawValue))
            journey.openAttempt = nil
            trace.failed(
                code: settlement.status == 499 ? "cancelled" : "stream_interrupted", attempts: journey.attempts.count)
        }
    }
}

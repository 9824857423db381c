import Foundation

/// The streaming failover state machine of one request, driven by the consumer's pulls.
///
/// Before the first chunk reached the caller every failure was handled by the attempt
/// loop. Afterwards, a cut, a stall or an upstream error either resumes on the next
/// prefill-capable model (`mid_stream: continue`) or ends the stream with a
/// `stream_interrupted` error (`mid_stream: fail`). The stream ends normally only when an
/// upstream ended normally, so a truncated answer is never presented as complete.
/// Pull-driven: nothing is read from upstream faster than the caller consumes.
final class StreamRelay: @unchecked Sendable {
    struct Segment {
        var model: ModelConfiguration
        var reservation: BudgetLedger.Reservation
        var usage: Usage?
    }

    private let router: Router
    private let request: ChatCompletionRequest
    private var journey: Router.Journey
    private var remaining: [SelectionCandidate]
    private var source: ChunkSource
    private var buffered: [ChatCompletionChunk]
    private var segments: [Segment]
    private var deliveredText = ""
    private var finished = false
    private let streamID: String
    private let includeUsage: Bool
    private let policy: StreamPolicy

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
        segments = [segment]
        streamID = firstChunks.first?.id ?? "chatcmpl-\(journey.requestID)"
        includeUsage = request.streamOptions?["include_usage"]?.boolValue == true
        policy = journey.pool.configuration.stream
    }

    var chunks: AsyncThrowingStream<ChatCompletionChunk, any Error> {
        AsyncThrowingStream(unfolding: { [self] in try await self.next() })
    }

    func next() async throws -> ChatCompletionChunk? {
        while true {
            if !buffered.isEmpty {
                if let chunk = deliver(buffered.removeFirst()) { return chunk }
                continue
            }
            if finished { return nil }
            let chunk: ChatCompletionChunk?
            do {
                chunk = try await source.next(timeout: policy.idleTimeout, what: "idle_timeout")
            } catch {
                try await recover(from: error)
                continue
            }
            guard let chunk else {
                finish(success: true, error: nil)
                return nil
            }
            if let chunk = deliver(chunk) { return chunk }
        }
    }

    /// Bookkeeping for one chunk; nil when the caller should not see it.
    private func deliver(_ upstream: ChatCompletionChunk) -> ChatCompletionChunk? {
        var chunk = upstream
        chunk.id = streamID
        if let usage = chunk.usage {
            segments[segments.count - 1].usage = usage
            if chunk.choices.isEmpty, !includeUsage { return nil }
        }
        for choice in chunk.choices { deliveredText += choice.delta.content ?? "" }
        return chunk
    }

    /// A failure after output began: resume on the next prefill-capable model, or end
    /// with an in-band error.
    private func recover(from error: any Error) async throws {
        let failure = ProviderError.classify(error)
        let current = segments[segments.count - 1].model
        if failure.errorClass == .cancelled || Task.isCancelled {
            finish(success: false, error: "cancelled")
            throw CancellationError()
        }
        journey.lastError = failure
        journey.attempts.append(
            AttemptRecord(
                modelID: current.id, providerID: current.provider, errorClass: failure.errorClass.rawValue,
                status: failure.status, latencyMs: 0))
        router.recordFailure(model: current, pool: journey.pool, error: failure)
        let resumable = remaining.filter { router.models[$0.modelID]?.features.contains(.prefill) == true }
        if policy.midStream == .continue, !resumable.isEmpty {
            var prefill = request
            prefill.messages.append(.assistant(deliveredText))
            do {
                let opened = try await router.openStream(prefill, journey: &journey, chain: resumable)
                remaining = Array(resumable.drop { $0.modelID != opened.segment.model.id }.dropFirst())
                source = opened.source
                // The caller already has the assistant role; only new content follows.
                buffered = opened.firstChunks.compactMap { chunk in
                    var c = chunk
                    for i in c.choices.indices { c.choices[i].delta.role = nil }
                    return c.carriesOutput || c.usage != nil ? c : nil
                }
                segments.append(opened.segment)
                return
            } catch {
                finish(success: false, error: "\(error)")
                throw interrupted(after: failure, resumeError: error)
            }
        }
        finish(success: false, error: failure.description)
        throw interrupted(after: failure, resumeError: nil)
    }

    private func interrupted(after failure: ProviderError, resumeError: (any Error)?) -> ModelMeshError {
        var message = "The stream from \(segments.last?.model.id ?? "the upstream") broke after output began "
            + "(\(failure.errorClass.rawValue): \(failure.message))"
        if let resumeError { message += "; resuming on another model failed: \(resumeError)" }
        return ModelMeshError(
            .streamInterrupted, message,
            hint: policy.midStream == .fail
                ? "The pool's stream.mid_stream is 'fail'" : "Add a model with features.prefill to resume streams",
            poolID: journey.pool.id, attempts: journey.attempts)
    }

    private func finish(success: Bool, error: String?) {
        guard !finished else { return }
        finished = true
        for segment in segments {
            let cost = segment.usage.flatMap { u in segment.model.pricing?.cost(of: u) }
            router.ledger.settle(segment.reservation, actual: cost)
        }
        let cost = segments.reduce(0.0) { total, segment in
            total + (segment.usage.flatMap { u in segment.model.pricing?.cost(of: u) } ?? 0)
        }
        router.logRequest(
            journey: journey, model: segments.last?.model, usage: segments.last?.usage, cost: cost,
            streaming: true, error: success ? nil : error, prompt: request, response: deliveredText)
    }
}

extension Router {
    struct OpenedStream {
        var source: ChunkSource
        var firstChunks: [ChatCompletionChunk]
        var segment: StreamRelay.Segment
    }

    /// Walks `chain` until an upstream delivers its first output chunk.
    func openStream(_ request: ChatCompletionRequest, journey: inout Journey, chain: [SelectionCandidate])
        async throws -> OpenedStream
    {
        let policy = journey.pool.configuration.stream
        let firstTokenTimeout = policy.firstTokenTimeout
        let deadlines = StreamDeadlines(firstToken: policy.firstTokenTimeout, idle: policy.idleTimeout)
        let ((source, first), model, _, reservation) = try await run(&journey, chain: chain) {
            handle, connector, context in
            var upstream = request
            upstream.model = handle.target.wireName
            upstream.stream = true
            var context = context
            context.streamDeadlines = deadlines
            let opened = try await connector.stream(upstream, target: handle.target, context: context)
            let source = ChunkSource(opened.chunks, enforcedUpstream: connector.enforcesStreamDeadlines)
            var first: [ChatCompletionChunk] = []
            while true {
                guard let chunk = try await source.next(timeout: firstTokenTimeout, what: "first_token_timeout") else {
                    throw ProviderError(.streamInterrupted, message: "The upstream stream ended before any output")
                }
                first.append(chunk)
                if chunk.carriesOutput { break }
            }
            return ((source, first), nil, opened.rateLimit)
        }
        return OpenedStream(
            source: source, firstChunks: first, segment: .init(model: model, reservation: reservation, usage: nil))
    }

    func stream(_ request: ChatCompletionRequest, options: RoutingOptions) async throws -> RoutedStream {
        let (pool, onlyModel) = try route(request.model)
        var profile = RequestProfile(chat: request, streaming: true, sessionKey: options.sessionKey)
        profile.onlyModel = onlyModel
        var journey = beginJourney(pool: pool, profile: profile, requestID: options.requestID)
        let plan = plan(pool, profile: profile, now: journey.start)
        guard !plan.chain.isEmpty else {
            let error = emptyChainError(plan)
            logFailure(journey: journey, error: error, streaming: true, prompt: request)
            throw error
        }
        let opened: OpenedStream
        do {
            opened = try await openStream(request, journey: &journey, chain: plan.chain)
        } catch {
            logFailure(journey: journey, error: error, streaming: true, prompt: request)
            throw error
        }
        let model = opened.segment.model
        let remaining = Array(plan.chain.drop { $0.modelID != model.id }.dropFirst())
        let relay = StreamRelay(
            router: self, request: request, journey: journey, remaining: remaining, source: opened.source,
            firstChunks: opened.firstChunks, segment: opened.segment)
        return RoutedStream(
            requestID: journey.requestID, poolID: pool.id, modelID: model.id, providerID: model.provider,
            attempts: journey.attempts, chunks: relay.chunks)
    }
}

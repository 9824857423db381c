import Foundation

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
            source: source, firstChunks: first, segment: .init(
                model: model, reservation: reservation, usage: nil,
                estimatedInputTokens: RequestProfile.estimateTokens(request)))
    }

    func stream(_ request: ChatCompletionRequest, options: RoutingOptions) async throws -> RoutedStream {
        let trace = RequestTrace.start("chat", model: request.model, options: options)
        // The relay ends the request span when the stream ends.
        return try await RequestTrace.run(trace, endsOnReturn: false) {
            try await stream(request, options: options, trace: trace)
        }
    }

    private func stream(_ request: ChatCompletionRequest, options: RoutingOptions, trace: RequestTrace?)
        async throws -> RoutedStream
    {
        var (journey, plan) = try start(
            request.model, profile: { RequestProfile(chat: request, streaming: true, sessionKey: $0) },
            options: options, streaming: true, prompt: request)
        attach(trace, to: &journey)
        let pool = plan.pool
        let opened: OpenedStream
        do {
            opened = try await openStream(request, journey: &journey, chain: plan.chain)
        } catch {
            recorder.logFailure(journey: journey, error: error, streaming: true, prompt: request)
            throw error
        }
        let model = opened.segment.model
        let remaining = journey.inScope(
            Array(plan.chain.drop { $0.modelID != model.id }.dropFirst()), pool.configuration.retry.scope)
        let relay = StreamRelay(
            router: self, request: request, journey: journey, remaining: remaining, source: opened.source,
            firstChunks: opened.firstChunks, segment: opened.segment)
        return RoutedStream(
            requestID: journey.requestID, poolID: pool.id, modelID: model.id, providerID: model.provider,
            attempts: journey.attempts, chunks: relay.chunks)
    }
}

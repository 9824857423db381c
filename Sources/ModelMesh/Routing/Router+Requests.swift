import Foundation

extension Router {
    /// Resolves and plans a request: its journey and its chain, or the logged error of a
    /// pool that has nothing to try.
    func start(
        _ model: String, profile makeProfile: (String?) -> RequestProfile, options: RoutingOptions, streaming: Bool,
        prompt: ChatCompletionRequest?
    ) throws -> (Journey, Plan) {
        let (pool, onlyModel) = try topology.route(model)
        var profile = makeProfile(options.sessionKey)
        profile.onlyModel = onlyModel
        let journey = beginJourney(pool: pool, profile: profile, requestID: options.requestID)
        let plan = plan(pool, profile: profile, now: journey.start)
        guard !plan.chain.isEmpty else {
            let error = emptyChainError(plan)
            recorder.logFailure(journey: journey, error: error, streaming: streaming, prompt: prompt)
            throw error
        }
        return (journey, plan)
    }

    /// A non-streamed chat completion.
    func complete(_ request: ChatCompletionRequest, options: RoutingOptions) async throws -> Routed<ChatCompletion> {
        let trace = RequestTrace.start("chat", model: request.model, options: options)
        return try await RequestTrace.run(trace) { try await complete(request, options: options, trace: trace) }
    }

    private func complete(_ request: ChatCompletionRequest, options: RoutingOptions, trace: RequestTrace?)
        async throws -> Routed<ChatCompletion>
    {
        var (journey, plan) = try start(
            request.model, profile: { RequestProfile(chat: request, streaming: false, sessionKey: $0) },
            options: options, streaming: false, prompt: request)
        attach(trace, to: &journey)
        let pool = plan.pool
        do {
            let (result, model, usage, reservation) = try await run(&journey, chain: plan.chain) {
                handle, connector, context in
                var upstream = request
                upstream.model = handle.target.wireName
                let result = try await connector.complete(upstream, target: handle.target, context: context)
                return (result, result.usage, result.rateLimit)
            }
            let cost = usage.flatMap { model.pricing?.cost(of: $0) }
            // A response without usage keeps its reservation: the cost is unknown, not zero.
            settle(reservation, actual: cost)
            traceAnswer(
                journey, model: model, responseModel: result.responseModel, usage: usage,
                finishReasons: result.finishReasons, cost: cost)
            recorder.logRequest(
                journey: journey, model: model, usage: usage, cost: cost ?? 0, streaming: false, error: nil,
                prompt: request, response: result.completion.text)
            return Routed(
                value: result.deferred, requestID: journey.requestID, poolID: pool.id, modelID: model.id,
                providerID: model.provider, attempts: journey.attempts, body: result.body)
        } catch {
            recorder.logFailure(journey: journey, error: error, streaming: false, prompt: request)
            throw error
        }
    }

    /// Embeddings, routed like completions.
    func embed(_ request: EmbeddingRequest, options: RoutingOptions) async throws -> Routed<EmbeddingResponse> {
        let trace = RequestTrace.start("embeddings", model: request.model, options: options)
        return try await RequestTrace.run(trace) { try await embed(request, options: options, trace: trace) }
    }

    private func embed(_ request: EmbeddingRequest, options: RoutingOptions, trace: RequestTrace?)
        async throws -> Routed<EmbeddingResponse>
    {
        var (journey, plan) = try start(
            request.model, profile: { _ in RequestProfile(embedding: request) }, options: options, streaming: false,
            prompt: nil)
        attach(trace, to: &journey)
        let pool = plan.pool
        do {
            let (response, model, usage, reservation) = try await run(&journey, chain: plan.chain) {
                handle, connector, context in
                var upstream = request
                upstream.model = handle.target.wireName
                let result = try await connector.embed(upstream, target: handle.target, context: context)
                return (result.response, result.response.usage, result.rateLimit)
            }
            let cost = usage.flatMap { model.pricing?.cost(of: $0) }
            settle(reservation, actual: cost)
            traceAnswer(journey, model: model, responseModel: response.model, usage: usage, finishReasons: [], cost: cost)
            recorder.logRequest(
                journey: journey, model: model, usage: usage, cost: cost ?? 0, streaming: false, error: nil,
                prompt: nil, response: nil)
            return Routed(
                value: Deferred(response), requestID: journey.requestID, poolID: pool.id, modelID: model.id,
                providerID: model.provider, attempts: journey.attempts)
        } catch {
            recorder.logFailure(journey: journey, error: error, streaming: false, prompt: nil)
            throw error
        }
    }
}

import Foundation
import Synchronization

private let requestCounter = Atomic<UInt64>(0)
private let requestIDPrefix = "req_" + String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16) + "_"

extension Router {
    func beginJourney(pool: CapabilityPool, profile: RequestProfile, requestID: String?) -> Journey {
        let now = clock.now()
        return Journey(
            requestID: requestID ?? Self.newRequestID(), pool: pool, profile: profile, start: now,
            deadline: now.adding(pool.configuration.retry.timeout))
    }

    /// A random per-process prefix and a counter: unique, and no system call per request.
    static func newRequestID() -> String {
        let n = requestCounter.wrappingAdd(1, ordering: .relaxed).newValue
        return requestIDPrefix + String(n, radix: 16)
    }

    /// A non-streamed chat completion.
    func complete(_ request: ChatCompletionRequest, options: RoutingOptions) async throws -> Routed<ChatCompletion> {
        let (pool, onlyModel) = try route(request.model)
        var profile = RequestProfile(chat: request, streaming: false, sessionKey: options.sessionKey)
        profile.onlyModel = onlyModel
        var journey = beginJourney(pool: pool, profile: profile, requestID: options.requestID)
        let plan = plan(pool, profile: profile, now: journey.start)
        guard !plan.chain.isEmpty else {
            let error = emptyChainError(plan)
            logFailure(journey: journey, error: error, streaming: false, prompt: request)
            throw error
        }
        do {
            let (result, model, usage, reservation) = try await run(&journey, chain: plan.chain) {
                handle, connector, context in
                var upstream = request
                upstream.model = handle.target.wireName
                let result = try await connector.complete(upstream, target: handle.target, context: context)
                return (result, result.completion.usage, result.rateLimit)
            }
            let completion = result.completion
            let cost = usage.flatMap { model.pricing?.cost(of: $0) }
            // A response without usage keeps its reservation: the cost is unknown, not zero.
            ledger.settle(reservation, actual: cost)
            logRequest(
                journey: journey, model: model, usage: usage, cost: cost ?? 0, streaming: false, error: nil,
                prompt: request, response: completion.text)
            return Routed(
                value: completion, requestID: journey.requestID, poolID: pool.id, modelID: model.id,
                providerID: model.provider, attempts: journey.attempts, body: result.body)
        } catch {
            logFailure(journey: journey, error: error, streaming: false, prompt: request)
            throw error
        }
    }

    /// Embeddings, routed like completions.
    func embed(_ request: EmbeddingRequest, options: RoutingOptions) async throws -> Routed<EmbeddingResponse> {
        let (pool, onlyModel) = try route(request.model)
        var profile = RequestProfile(embedding: request)
        profile.onlyModel = onlyModel
        var journey = beginJourney(pool: pool, profile: profile, requestID: options.requestID)
        let plan = plan(pool, profile: profile, now: journey.start)
        guard !plan.chain.isEmpty else { throw emptyChainError(plan) }
        do {
            let (response, model, usage, reservation) = try await run(&journey, chain: plan.chain) {
                handle, connector, context in
                var upstream = request
                upstream.model = handle.target.wireName
                let result = try await connector.embed(upstream, target: handle.target, context: context)
                return (result.response, result.response.usage, result.rateLimit)
            }
            let cost = usage.flatMap { model.pricing?.cost(of: $0) }
            ledger.settle(reservation, actual: cost)
            logRequest(
                journey: journey, model: model, usage: usage, cost: cost ?? 0, streaming: false, error: nil,
                prompt: nil, response: nil)
            return Routed(
                value: response, requestID: journey.requestID, poolID: pool.id, modelID: model.id,
                providerID: model.provider, attempts: journey.attempts)
        } catch {
            logFailure(journey: journey, error: error, streaming: false, prompt: nil)
            throw error
        }
    }

    // MARK: Request log and statistics

    func logRequest(
        journey: Journey, model: ModelConfiguration?, usage: Usage?, cost: Double, streaming: Bool, error: String?,
        prompt: ChatCompletionRequest?, response: String?
    ) {
        let now = clock.now()
        let latency = now.timeIntervalSince(journey.start) * 1000
        var entry = RequestLogEntry(
            requestID: journey.requestID, timestamp: journey.start, poolID: journey.pool.id, modelID: model?.id,
            providerID: model?.provider, capability: journey.pool.capabilityPath,
            deliveryMode: streaming ? "streaming" : "synchronous", status: error == nil ? 200 : 502,
            latencyMs: latency, tokensIn: usage?.promptTokens ?? 0, tokensOut: usage?.completionTokens ?? 0, cost: cost,
            error: error, attempts: journey.attempts)
        if requestLog.level > .metadata {
            entry.prompt = prompt.map { Self.promptText($0) }
            entry.response = response
        }
        statistics.record(entry)
        emitter.log(requestLog.redactor.redact(entry))
    }

    func logFailure(journey: Journey, error: any Error, streaming: Bool, prompt: ChatCompletionRequest?) {
        let meshError = error as? ModelMeshError
        let now = clock.now()
        let latency = now.timeIntervalSince(journey.start) * 1000
        let failed = meshError?.attempts.last ?? journey.attempts.last
        var entry = RequestLogEntry(
            requestID: journey.requestID, timestamp: journey.start, poolID: journey.pool.id, modelID: failed?.modelID,
            providerID: failed?.providerID, capability: journey.pool.capabilityPath,
            deliveryMode: streaming ? "streaming" : "synchronous", status: meshError?.status ?? 500,
            latencyMs: latency, error: meshError?.message ?? "\(error)",
            attempts: meshError?.attempts ?? journey.attempts)
        if requestLog.level > .metadata { entry.prompt = prompt.map { Self.promptText($0) } }
        statistics.record(entry)
        emitter.log(requestLog.redactor.redact(entry))
    }

    static func promptText(_ request: ChatCompletionRequest) -> String {
        request.messages.map { "\($0.role): \($0.content?.text ?? "")" }.joined(separator: "\n")
    }
}

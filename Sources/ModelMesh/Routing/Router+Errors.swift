import Foundation

/// The errors a request's journey ends with, each naming the pool, what was tried and
/// what to do about it.
extension Router {
    /// The error for a plan with an empty chain.
    func emptyChainError(_ plan: Plan) -> ModelMeshError {
        let reasons = plan.dropped.map { "\($0.modelID): \($0.reason)" }.joined(separator: "; ")
        if !plan.dropped.isEmpty, plan.dropped.allSatisfy({ $0.reason.code == "budget_exceeded" }) {
            let limit = plan.dropped.first.flatMap { if case .budgetExceeded(let l) = $0.reason { l } else { nil } }
            return ModelMeshError(
                .budgetExceeded, "Every model of pool '\(plan.pool.id)' is over budget (\(reasons))",
                hint: "Raise the provider or model budget, or wait for the period to reset", poolID: plan.pool.id,
                limit: limit, remaining: 0)
        }
        if !plan.dropped.isEmpty, plan.dropped.allSatisfy({ $0.reason.code == "context_window" }) {
            return ModelMeshError(
                .contextLengthExceeded, "The request does not fit the context window of any model in pool "
                    + "'\(plan.pool.id)' (\(reasons))", hint: "Shorten the conversation or lower max_tokens",
                poolID: plan.pool.id)
        }
        if !plan.dropped.isEmpty, plan.dropped.allSatisfy({ $0.reason.code == "missing_feature" }) {
            return ModelMeshError(
                .invalidRequest, "No model in pool '\(plan.pool.id)' supports this request (\(reasons))",
                hint: "Add a model with the needed feature to the pool", poolID: plan.pool.id)
        }
        return ModelMeshError(
            .noActiveModel,
            "No active model in pool '\(plan.pool.id)'" + (reasons.isEmpty ? " (the pool has no members)" : ": \(reasons)"),
            hint: "GET /v1/mesh/state shows who is out and until when", poolID: plan.pool.id)
    }

    func upstreamError(_ failure: ProviderError, journey: Journey) -> ModelMeshError {
        let code: ModelMeshError.Code =
            switch failure.errorClass {
            case .contentPolicy: .contentPolicy
            case .contextLength: .contextLengthExceeded
            default: .upstream
            }
        // Only an error status passes through: a refusal found inside a 200 answer is the
        // caller's error, not a success. Without one, what the request got wrong is a 400.
        let status = failure.status.flatMap { (400...599).contains($0) ? $0 : nil } ?? 400
        return ModelMeshError(
            code, failure.message, hint: nil, status: status, poolID: journey.pool.id, attempts: journey.attempts,
            retryAfter: failure.retryAfter)
    }

    func exhaustedError(_ journey: Journey) -> ModelMeshError {
        let list = journey.attempts.map { a in
            "\(a.modelID) (\(a.errorClass ?? "ok")\(a.status.map { " \($0)" } ?? ""))"
        }
        if journey.attempts.isEmpty {
            return ModelMeshError(
                .noActiveModel, "No model of pool '\(journey.pool.id)' could be tried",
                hint: "GET /v1/mesh/state shows who is out and until when", poolID: journey.pool.id)
        }
        if let last = journey.lastError, last.errorClass == .contextLength {
            return ModelMeshError(
                .contextLengthExceeded,
                "The request exceeds the context window of every model tried in pool '\(journey.pool.id)': "
                    + list.joined(separator: ", "),
                hint: "Shorten the conversation, lower max_tokens, or add a model with a larger window",
                poolID: journey.pool.id, attempts: journey.attempts)
        }
        recorder.trace(.error, "Every candidate of pool '\(journey.pool.id)' failed: " + list.joined(separator: ", "),
            journey: journey, model: nil)
        let allRateLimited = journey.attempts.allSatisfy { $0.errorClass == ProviderErrorClass.rateLimited.rawValue }
        return ModelMeshError(
            .allCandidatesFailed,
            "All candidates of pool '\(journey.pool.id)' failed after \(journey.attempts.count) attempts: "
                + list.joined(separator: ", "),
            hint: "GET /v1/mesh/state shows each model's state; retry later",
            status: allRateLimited ? 429 : 502, poolID: journey.pool.id, attempts: journey.attempts,
            retryAfter: allRateLimited ? journey.lastError?.retryAfter : nil)
    }

    func journeyTimeout(_ journey: Journey) -> ModelMeshError {
        ModelMeshError(
            .timeout,
            "The request to pool '\(journey.pool.id)' ran out of time (retry.timeout) after \(journey.attempts.count) attempts",
            hint: "Raise the pool's retry.timeout", poolID: journey.pool.id, attempts: journey.attempts)
    }
}

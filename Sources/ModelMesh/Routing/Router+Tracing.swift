import Foundation

extension Router {
    /// Gives `journey` the request's spans.
    func attach(_ trace: RequestTrace?, to journey: inout Journey) {
        guard let trace else { return }
        journey.trace = trace
        trace.span.attributes["modelmesh.request_id"] = journey.requestID
    }

    /// The span of an attempt on `model`, a child of the request span.
    func startAttemptSpan(
        _ trace: RequestTrace, journey: Journey, model: ModelConfiguration, attempt: Int, rotatedFrom: String?,
        reservation: BudgetLedger.Reservation
    ) -> AttemptSpan {
        trace.startAttempt(
            model: model, system: system(of: model), pool: journey.pool.id, attempt: attempt,
            number: journey.attempts.count + 1, rotatedFrom: rotatedFrom, reserved: reservation.amount)
    }

    /// The `gen_ai.system` of the vendor serving `model`, when known (read only when traced).
    func system(of model: ModelConfiguration) -> String? {
        RequestTrace.system(ofConnector: topology.providerConfigs[model.provider]?.connector)
    }

    /// Records the answer on the request span and ends the attempt span that produced it.
    func traceAnswer(
        _ journey: Journey, model: ModelConfiguration, responseModel: String?, usage: Usage?,
        finishReasons: [String], cost: Double?
    ) {
        guard let trace = journey.trace else { return }
        journey.openAttempt?.succeeded(responseModel: responseModel, usage: usage, finishReasons: finishReasons)
        trace.answered(
            pool: journey.pool.id, model: model, system: system(of: model), usage: usage,
            finishReasons: finishReasons, cost: cost, attempts: journey.attempts.count)
    }
}

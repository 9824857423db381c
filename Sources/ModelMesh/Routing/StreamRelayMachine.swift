import Foundation

/// The state of one relayed stream as a value: what the caller has seen, which upstream
/// segment is current, and what to do on each chunk, failure and end. It performs no I/O;
/// ``StreamRelay`` drives it and carries out the actions it returns.
struct StreamRelayMachine {
    enum State: Equatable {
        /// Chunks flow from the current segment to the caller.
        case relaying
        /// The current segment broke after output began; a continuation is being opened.
        case resuming
        /// Settled: no chunk and no failure changes anything any more.
        case finished
    }

    /// One upstream's part of the answer.
    struct Segment {
        var model: ModelConfiguration
        var reservation: BudgetLedger.Reservation
        /// What the upstream reported; nil when the segment ended without a usage report.
        var usage: Usage?
        /// The estimated prompt this segment was sent (its prefill included).
        var estimatedInputTokens = 0
        /// Bytes of content this segment delivered to the caller.
        var deliveredBytes = 0

        /// What the segment cost: its reported usage. Without one, the cost is unknown and
        /// the reservation is kept (nil), unless the caller left: then the upstream was cut
        /// by us after what it delivered, so the charge is the estimated prompt plus that
        /// output at four bytes a token, never more than it reserved.
        func cost(callerLeft: Bool) -> Double? {
            guard let pricing = model.pricing else { return nil }
            if let usage { return pricing.cost(of: usage) }
            guard callerLeft else { return nil }
            let output = deliveredBytes == 0 ? 0 : (deliveredBytes + 3) / 4
            let estimate = pricing.cost(
                of: Usage(promptTokens: estimatedInputTokens, completionTokens: output))
            return min(estimate, reservation.amount)
        }
    }

    /// What to do after the current segment failed.
    enum FailureAction: Equatable {
        /// Open a continuation whose assistant prefill is `prefill`, the text delivered so far.
        case resume(prefill: String)
        /// End the stream with an in-band error.
        case fail
    }

    /// The stream's outcome, for the budget and the request log; returned once.
    struct Settlement {
        var segments: [Segment]
        var success: Bool
        var error: String?
        var status: Int?
        var deliveredText: String
    }

    private(set) var state: State = .relaying
    private(set) var segments: [Segment]
    private(set) var deliveredText = ""
    let streamID: String
    let includeUsage: Bool
    let midStream: MidStreamPolicy

    init(first segment: Segment, streamID: String, includeUsage: Bool, midStream: MidStreamPolicy) {
        segments = [segment]
        self.streamID = streamID
        self.includeUsage = includeUsage
        self.midStream = midStream
    }

    /// Books one upstream chunk; returns what the caller sees (nil: nothing, e.g. a usage
    /// chunk the caller did not ask for).
    mutating func received(_ upstream: ChatCompletionChunk) -> ChatCompletionChunk? {
        guard state != .finished else { return nil }
        var chunk = upstream
        // One id for the whole answer, whichever upstream produced the chunk.
        chunk.id = streamID
        if let usage = chunk.usage {
            segments[segments.count - 1].usage = usage
            if chunk.choices.isEmpty, !includeUsage { return nil }
        }
        for choice in chunk.choices {
            guard let content = choice.delta.content else { continue }
            deliveredText += content
            segments[segments.count - 1].deliveredBytes += content.utf8.count
        }
        return chunk
    }

    /// The current segment failed after output began.
    ///
    /// - Parameter canResume: whether a model that accepts an assistant prefill remains.
    mutating func failed(canResume: Bool) -> FailureAction {
        guard state == .relaying, midStream == .continue, canResume else { return .fail }
        state = .resuming
        return .resume(prefill: deliveredText)
    }

    /// A continuation opened on `segment`; returns its first chunks as the caller should
    /// see them: without a second assistant role, and without empty chunks.
    mutating func resumed(on segment: Segment, first chunks: [ChatCompletionChunk]) -> [ChatCompletionChunk] {
        guard state == .resuming else { return [] }
        state = .relaying
        segments.append(segment)
        return chunks.compactMap { chunk in
            var c = chunk
            for i in c.choices.indices { c.choices[i].delta.role = nil }
            return c.carriesOutput || c.usage != nil ? c : nil
        }
    }

    /// Ends the stream; the settlement the first time, nil after.
    mutating func finish(success: Bool, error: String?, status: Int? = nil) -> Settlement? {
        guard state != .finished else { return nil }
        state = .finished
        return Settlement(
            segments: segments, success: success, error: success ? nil : error, status: status,
            deliveredText: deliveredText)
    }
}

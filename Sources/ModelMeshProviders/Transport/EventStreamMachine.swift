import ModelMesh
import NIOCore
import NIOHTTP1

/// The protocol of one streamed (server-sent events) upstream response as a value: what the
/// head, each body part, the end of the body, a failure, a timer and a cancellation mean, and
/// what is to be done about each.
///
/// It performs no I/O and reads no clock: every input that depends on time carries the
/// moment it happened. ``EventStreamDelegate`` drives it on the connection's event loop and
/// carries out the ``Action`` each input returns.
///
/// - The head must arrive within the head budget; a non-2xx head is followed by its body
///   (capped at the error limit, and given at least a second) and reported as
///   ``Opening/rejected(_:_:)``.
/// - A 2xx head opens the element stream; the body is parsed as server-sent events and fed
///   through the decoder until its end marker, after which the rest of the body is drained.
/// - Once streaming, the body must not stay silent longer than the idle timeout, and the
///   elements must meet ``StreamDeadlines`` when given: before the first element carrying
///   output each element must come within `firstToken`, after it within `idle`.
struct EventStreamMachine<Decoder: SSEEventDecoder> {
    /// How a request opened.
    enum Opening: Sendable {
        /// A 2xx head: elements follow.
        case stream(HTTPResponseHead)
        /// Any other status, with (the first part of) its body.
        case rejected(HTTPResponseHead, ByteBuffer)
    }

    struct Configuration: Sendable {
        var headBudget: Duration
        var idleTimeout: Duration
        var deadlines: StreamDeadlines?
        /// The most of an error body that is kept.
        var errorLimit: Int
        /// Whether an element counts as output for the first-token deadline.
        var carriesOutput: @Sendable (Decoder.Element) -> Bool
        /// The largest server-sent event (or line) accepted; a larger one fails the stream.
        var maxEventSize: Int = 16 * 1024 * 1024
        /// How long the stream may last from its head, however lively (nil: no limit).
        var maxDuration: Duration? = nil
    }

    /// What the request's one timer waits for.
    enum Timer: Sendable, Hashable {
        /// The head, within the head budget.
        case head
        /// The rest of a non-2xx response's body.
        case errorBody
        /// The next data and the next element, within the stream's deadlines.
        case silence
    }

    enum State {
        /// The request is on its way; no head yet.
        case awaitingHead(Decoder)
        /// A non-2xx head arrived; its body is collected for the rejection.
        case collectingRejection(HTTPResponseHead, body: ByteBuffer)
        /// A 2xx head arrived; elements flow.
        case streaming(Streaming)
        /// The end marker was seen and the element stream finished; the rest of the body is
        /// drained so the connection can be reused.
        case draining
        /// Settled: the opener was resumed and the element stream (if opened) finished.
        case finished
    }

    struct Streaming {
        var parser: SSEParser
        var decoder: Decoder
        var opened: NIODeadline
        var lastData: NIODeadline
        var lastElement: NIODeadline
        var outputSeen = false
    }

    /// How to resume the caller waiting for the head.
    enum OpenerAction: Sendable {
        case open(Opening)
        case fail(any Error)
    }

    /// How the element stream ends.
    enum StreamEnd: Sendable {
        case finished
        /// With an error of the HTTP stack or the decoder, or a ``ProviderError`` of the machine.
        case failed(any Error)
    }

    enum TimerAction: Sendable, Hashable {
        /// Replace the armed timer, if any, with one firing at the deadline.
        case arm(Timer, at: NIODeadline)
        case cancel
    }

    /// What to do after an input, in the order of the fields.
    struct Action: Sendable {
        var timer: TimerAction?
        var opener: OpenerAction?
        /// Events the decoder could not decode, to report.
        var invalidEvents: [SSEEvent] = []
        /// Elements to yield.
        var elements: [Decoder.Element] = []
        var streamEnd: StreamEnd?
        /// Cancel the HTTP request (and close its connection).
        var cancelRequest = false

        static var none: Action { Action() }

        var isEmpty: Bool {
            timer == nil && opener == nil && invalidEvents.isEmpty && elements.isEmpty && streamEnd == nil
                && !cancelRequest
        }
    }

    let configuration: Configuration
    private(set) var state: State
    /// A cancellation decided before the request was handed over is carried out when it is.
    private var requestCancelled = false
    /// The head budget ran out: the failure that cancelling causes is reported as that.
    private var headBudgetExceeded = false

    init(decoder: Decoder, configuration: Configuration) {
        self.configuration = configuration
        state = .awaitingHead(decoder)
    }

    // MARK: Inputs

    /// The request was handed to the HTTP client at `now`.
    mutating func requestStarted(at now: NIODeadline) -> Action {
        if requestCancelled { return Action(cancelRequest: true) }
        guard case .awaitingHead = state else { return .none }
        return Action(timer: .arm(.head, at: now + TimeAmount(configuration.headBudget)))
    }

    mutating func headReceived(_ head: HTTPResponseHead, at now: NIODeadline) -> Action {
        guard case .awaitingHead(let decoder) = state else { return .none }
        guard (200..<300).contains(head.status.code) else {
            state = .collectingRejection(head, body: ByteBuffer())
            // The error body gets the head budget again, at least a second.
            let deadline = now + TimeAmount(max(configuration.headBudget, .seconds(1)))
            return Action(timer: .arm(.errorBody, at: deadline))
        }
        state = .streaming(
            Streaming(
                parser: SSEParser(maxEventSize: configuration.maxEventSize), decoder: decoder, opened: now,
                lastData: now, lastElement: now))
        var action = checkSilence(at: now)
        action.opener = .open(.stream(head))
        return action
    }

    mutating func bodyPartReceived(_ buffer: ByteBuffer, at now: NIODeadline) -> Action {
        switch state {
        case .collectingRejection(let head, var body):
            // Released first so that `body` is the only reference and is appended in place.
            state = .finished
            let room = configuration.errorLimit - body.readableBytes
            var buffer = buffer
            if room > 0, let slice = buffer.readSlice(length: min(room, buffer.readableBytes)) {
                body.writeImmutableBuffer(slice)
            }
            state = .collectingRejection(head, body: body)
            return .none
        case .streaming(var stream):
            // Released first so that the parser and decoder are mutated in place.
            state = .finished
            stream.lastData = now
            var action = Action()
            var ended = false
            do {
                for event in try stream.parser.parse(buffer) where !ended {
                    ended = try take(stream.decoder.decode(event), for: event, into: &action)
                }
            } catch {
                action.timer = .cancel
                action.streamEnd = .failed(error)
                action.cancelRequest = true
                requestCancelled = true
                return action
            }
            if ended {
                state = .draining
                action.timer = .cancel
                action.streamEnd = .finished
                return action
            }
            if !action.elements.isEmpty, configuration.deadlines != nil {
                stream.lastElement = now
                if !stream.outputSeen, action.elements.contains(where: configuration.carriesOutput) {
                    stream.outputSeen = true
                }
            }
            state = .streaming(stream)
            return action
        case .awaitingHead, .draining, .finished:
            return .none
        }
    }

    /// The body ended properly.
    mutating func bodyEnded() -> Action {
        switch state {
        case .awaitingHead:
            state = .finished
            return Action(
                timer: .cancel,
                opener: .fail(ProviderError(.connection, message: "The upstream ended the response without a head")))
        case .collectingRejection(let head, let body):
            state = .finished
            return Action(timer: .cancel, opener: .open(.rejected(head, body)))
        case .streaming(var stream):
            state = .finished
            var action = Action(timer: .cancel)
            do {
                // A last event without its blank line counts; its end marker ends the stream.
                if let last = stream.parser.finish(), try take(stream.decoder.decode(last), for: last, into: &action) {
                    action.streamEnd = .finished
                    return action
                }
                // Without the end marker the decoder decides: last elements, or a failure.
                action.elements += try stream.decoder.bodyEnded()
                action.streamEnd = .finished
            } catch {
                action.streamEnd = .failed(error)
            }
            return action
        case .draining:
            state = .finished
            return .none
        case .finished:
            return .none
        }
    }

    /// The HTTP stack reported a failure (also the one cancelling the request causes).
    mutating func failed(_ error: any Error) -> Action {
        let error: any Error = headBudgetExceeded ? BudgetExceeded() : error
        switch state {
        case .awaitingHead:
            state = .finished
            return Action(timer: .cancel, opener: .fail(error))
        case .collectingRejection(let head, let body):
            state = .finished
            // A failed error body still reports the status.
            return Action(timer: .cancel, opener: .open(.rejected(head, body)))
        case .streaming:
            state = .finished
            return Action(timer: .cancel, streamEnd: .failed(error))
        case .draining:
            state = .finished
            return .none
        case .finished:
            return .none
        }
    }

    /// The timer armed for `timer` fired at `now`.
    mutating func timerFired(_ timer: Timer, at now: NIODeadline) -> Action {
        switch (timer, state) {
        case (.head, .awaitingHead):
            headBudgetExceeded = true
            requestCancelled = true
            return Action(cancelRequest: true)
        case (.errorBody, .collectingRejection(let head, let body)):
            state = .finished
            requestCancelled = true
            return Action(opener: .open(.rejected(head, body)), cancelRequest: true)
        case (.silence, .streaming):
            return checkSilence(at: now)
        default:
            return .none
        }
    }

    /// The caller, or the consumer of the elements, went away.
    mutating func cancelled() -> Action {
        switch state {
        case .awaitingHead, .collectingRejection, .draining:
            // The failure that cancelling causes resumes the opener.
            requestCancelled = true
            return Action(cancelRequest: true)
        case .streaming:
            state = .finished
            requestCancelled = true
            return Action(timer: .cancel, streamEnd: .failed(CancellationError()), cancelRequest: true)
        case .finished:
            return .none
        }
    }

    // MARK: Steps

    /// Adds a step's elements to `action`; returns whether the step was the end marker.
    private func take(_ step: SSEDecodeStep<Decoder.Element>, for event: SSEEvent, into action: inout Action) -> Bool {
        switch step {
        case .emit(let elements):
            action.elements += elements
            return false
        case .skip:
            return false
        case .invalid:
            action.invalidEvents.append(event)
            return false
        case .end(let elements):
            action.elements += elements
            return true
        }
    }

    /// Fails the stream when it stayed silent past a deadline at `now`, or arms the timer for
    /// the earliest of the idle deadline of the body and the element deadlines.
    private mutating func checkSilence(at now: NIODeadline) -> Action {
        guard case .streaming(let stream) = state else { return .none }
        var due = stream.lastData + TimeAmount(configuration.idleTimeout)
        var silence: ProviderError?
        if let deadlines = configuration.deadlines {
            let (limit, setting) =
                stream.outputSeen ? (deadlines.idle, "idle_timeout") : (deadlines.firstToken, "first_token_timeout")
            if stream.lastElement + TimeAmount(limit) < due {
                due = stream.lastElement + TimeAmount(limit)
                silence = .streamSilent(for: limit, setting: setting)
            }
        }
        if let limit = configuration.maxDuration, stream.opened + TimeAmount(limit) < due {
            due = stream.opened + TimeAmount(limit)
            silence = ProviderError(
                .timeout,
                message: "The upstream stream lasted longer than proxy.limits.max_stream_duration (\(limit.seconds)s)")
        }
        if now >= due {
            state = .finished
            requestCancelled = true
            let ms = Int((configuration.idleTimeout.seconds * 1000).rounded())
            let error = silence ?? ProviderError(.timeout, message: "The upstream stream stalled: no data for \(ms)ms")
            return Action(timer: .cancel, streamEnd: .failed(error), cancelRequest: true)
        }
        // The first output switches to the (possibly much shorter) idle deadline, so never
        // wait past now + the shortest limit: no deadline set later can fall before that.
        if let deadlines = configuration.deadlines {
            let shortest = min(configuration.idleTimeout, deadlines.firstToken, deadlines.idle)
            due = min(due, now + TimeAmount(shortest))
        }
        return Action(timer: .arm(.silence, at: due))
    }
}

import AsyncHTTPClient
import ModelMesh
import NIOCore
import NIOHTTP1
import Synchronization

/// Reads one streamed response for ``HTTPTransport/openEventStream(_:headBudget:idleTimeout:decoder:deadlines:carriesOutput:onInvalidEvent:failure:)``
/// as AsyncHTTPClient hands it over, on the connection's event loop: parses server-sent
/// events, decodes them and yields the elements, with event-loop timers for the deadlines.
///
/// A delegate rather than the async API and a task reading the body: per stream that saves
/// three tasks and a `Task.sleep` watchdog, and per chunk two thread hand-offs; it also sees
/// every byte that arrived before a connection broke.
///
/// - The head must arrive within the head budget; a non-2xx head is followed by its body
///   (capped, and given at least a second) and reported as ``Opening/rejected(_:_:)``.
/// - Once streaming, the body must not stay silent longer than the idle timeout, and the
///   elements must meet ``StreamDeadlines`` when given: before the first element carrying
///   output each element must come within `firstToken`, after it within `idle`.
final class EventStreamDelegate<Decoder: SSEEventDecoder>: HTTPClientResponseDelegate {
    typealias Response = Void

    /// How a request opened.
    enum Opening {
        /// A 2xx head: elements follow.
        case stream(HTTPResponseHead)
        /// Any other status, with (the first part of) its body.
        case rejected(HTTPResponseHead, ByteBuffer)
    }

    struct Settings: Sendable {
        var headBudget: Duration
        var idleTimeout: Duration
        var deadlines: StreamDeadlines?
        var errorLimit: Int
        /// Scrubs its secrets from stream errors.
        var request: UpstreamRequest
        var carriesOutput: @Sendable (Decoder.Element) -> Bool
        var onInvalidEvent: @Sendable (SSEEvent) -> Void
    }

    private struct State {
        var opening: CheckedContinuation<Opening, any Error>?
        var task: HTTPClient.Task<Void>?
        var cancelled = false
        var head: HTTPResponseHead?
        var errorBody = ByteBuffer()
        var parser = SSEParser()
        var decoder: Decoder
        /// The end marker was seen; the rest of the body is drained so the connection can be reused.
        var ended = false
        /// The element stream was finished (normally or not); nothing more goes to it.
        var finished = false
        var lastData = NIODeadline.now()
        var lastElement = NIODeadline.now()
        var outputSeen = false
        var timer: Scheduled<Void>?
        /// Why a timer cancelled the request.
        var timeout: (any Error)?
    }

    private let settings: Settings
    private let elements: AsyncThrowingStream<Decoder.Element, any Error>.Continuation
    private let state: Mutex<State>

    init(
        decoder: Decoder, settings: Settings,
        elements: AsyncThrowingStream<Decoder.Element, any Error>.Continuation
    ) {
        self.settings = settings
        self.elements = elements
        state = Mutex(State(decoder: decoder))
    }

    // MARK: Driving

    /// Registers the caller waiting for the head. Call before `start`.
    func awaitOpening(_ continuation: CheckedContinuation<Opening, any Error>) {
        state.withLock { $0.opening = continuation }
    }

    /// The request was handed to the client: arm the head timer.
    func start(_ task: HTTPClient.Task<Void>) {
        let cancelled = state.withLock { state -> Bool in
            state.task = task
            guard !state.cancelled else { return true }
            state.timer = schedule(in: settings.headBudget, on: task.eventLoop) { $0.headTimedOut() }
            return false
        }
        if cancelled { task.cancel() }
    }

    /// The caller (or the consumer of the elements) went away.
    func cancel() {
        let task = state.withLock { state -> HTTPClient.Task<Void>? in
            state.cancelled = true
            return state.task
        }
        task?.cancel()
    }

    // MARK: HTTPClientResponseDelegate

    func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        let opening = state.withLock { state -> CheckedContinuation<Opening, any Error>? in
            state.head = head
            state.timer?.cancel()
            guard (200..<300).contains(head.status.code) else {
                // The error body gets the head budget again, at least a second.
                state.timer = schedule(in: max(settings.headBudget, .seconds(1)), on: task.eventLoop) {
                    $0.errorBodyTimedOut()
                }
                return nil
            }
            let now = NIODeadline.now()
            state.lastData = now
            state.lastElement = now
            state.timer = nil
            defer { state.opening = nil }
            return state.opening
        }
        if let opening {
            opening.resume(returning: .stream(head))
            watch(on: task.eventLoop)
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        var failure: (any Error)?
        let (out, ended) = state.withLock { state -> ([Decoder.Element], Bool) in
            guard let head = state.head, (200..<300).contains(head.status.code) else {
                var buffer = buffer
                let room = settings.errorLimit - state.errorBody.readableBytes
                if room > 0, let slice = buffer.readSlice(length: min(room, buffer.readableBytes)) {
                    state.errorBody.writeImmutableBuffer(slice)
                }
                return ([], false)
            }
            state.lastData = .now()
            if state.ended || state.finished { return ([], false) }
            var out: [Decoder.Element] = []
            do {
                for event in try state.parser.parse(buffer) where !state.ended {
                    if try take(state.decoder.decode(event), for: event, into: &out) { state.ended = true }
                }
            } catch {
                failure = error
                state.finished = true
            }
            record(out, in: &state)
            if state.ended { state.finished = true }
            return (out, state.ended)
        }
        for element in out { elements.yield(element) }
        if let failure {
            elements.finish(throwing: streamError(failure))
            task.cancel()
        } else if ended {
            elements.finish()
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didFinishRequest(task: HTTPClient.Task<Void>) throws {
        var failure: (any Error)?
        let (opening, rejected, out, finish) = state.withLock {
            state -> (CheckedContinuation<Opening, any Error>?, Opening?, [Decoder.Element], Bool) in
            state.timer?.cancel()
            state.timer = nil
            guard let head = state.head, (200..<300).contains(head.status.code) else {
                defer { state.opening = nil }
                return (state.opening, state.head.map { .rejected($0, state.errorBody) }, [], false)
            }
            if state.finished { return (nil, nil, [], false) }
            state.finished = true
            var out: [Decoder.Element] = []
            do {
                if let last = state.parser.finish(), try take(state.decoder.decode(last), for: last, into: &out) {
                    return (nil, nil, out, true)
                }
                out += try state.decoder.bodyEnded()
            } catch {
                failure = error
            }
            return (nil, nil, out, true)
        }
        if let opening, let rejected { opening.resume(returning: rejected) }
        for element in out { elements.yield(element) }
        if let failure {
            elements.finish(throwing: streamError(failure))
        } else if finish {
            elements.finish()
        }
    }

    func didReceiveError(task: HTTPClient.Task<Void>, _ error: any Error) {
        let (opening, rejected, streamFailure) = state.withLock {
            state -> (CheckedContinuation<Opening, any Error>?, Opening?, (any Error)?) in
            state.timer?.cancel()
            state.timer = nil
            let error = state.timeout ?? error
            if let opening = state.opening {
                state.opening = nil
                // A failed error body still reports the status.
                return (opening, state.head.map { .rejected($0, state.errorBody) }, error)
            }
            if state.finished { return (nil, nil, nil) }
            state.finished = true
            return (nil, nil, error)
        }
        if let opening {
            if let rejected {
                opening.resume(returning: rejected)
            } else {
                opening.resume(throwing: streamFailure ?? error)
            }
        } else if let streamFailure {
            elements.finish(throwing: streamError(streamFailure))
        }
    }

    // MARK: Decoding

    /// A failure after the head, classified and scrubbed.
    private func streamError(_ error: any Error) -> ProviderError {
        settings.request.redact(HTTPTransport.classifyTransportError(error, afterHead: true, budget: nil))
    }

    /// Adds a step's elements to `out`; returns whether the step was the end marker.
    private func take(_ step: SSEDecodeStep<Decoder.Element>, for event: SSEEvent, into out: inout [Decoder.Element])
        -> Bool
    {
        switch step {
        case .emit(let elements):
            out += elements
            return false
        case .skip:
            return false
        case .invalid:
            settings.onInvalidEvent(event)
            return false
        case .end(let elements):
            out += elements
            return true
        }
    }

    private func record(_ out: [Decoder.Element], in state: inout State) {
        guard !out.isEmpty, settings.deadlines != nil else { return }
        state.lastElement = .now()
        if !state.outputSeen, out.contains(where: settings.carriesOutput) { state.outputSeen = true }
    }

    // MARK: Timers

    private func schedule(
        in duration: Duration, on eventLoop: any EventLoop, _ fire: @escaping @Sendable (EventStreamDelegate) -> Void
    ) -> Scheduled<Void> {
        eventLoop.scheduleTask(in: TimeAmount(duration)) { [self] in fire(self) }
    }

    private func headTimedOut() {
        let task = state.withLock { state -> HTTPClient.Task<Void>? in
            guard state.opening != nil else { return nil }
            state.timeout = BudgetExceeded()
            return state.task
        }
        task?.cancel()
    }

    private func errorBodyTimedOut() {
        let (opening, rejected, task) = state.withLock {
            state -> (CheckedContinuation<Opening, any Error>?, Opening?, HTTPClient.Task<Void>?) in
            guard let opening = state.opening, let head = state.head else { return (nil, nil, nil) }
            state.opening = nil
            return (opening, .rejected(head, state.errorBody), state.task)
        }
        if let opening, let rejected { opening.resume(returning: rejected) }
        task?.cancel()
    }

    /// Arms (or re-arms) the silence watchdog: the earliest of the idle deadline of the body
    /// and the element deadlines.
    private func watch(on eventLoop: any EventLoop) {
        let now = NIODeadline.now()
        let verdict = state.withLock { state -> (expired: (any Error)?, task: HTTPClient.Task<Void>?) in
            guard !state.finished else { return (nil, nil) }
            var due = state.lastData + TimeAmount(settings.idleTimeout)
            var silence: ProviderError?
            if let deadlines = settings.deadlines {
                let (limit, setting) =
                    state.outputSeen
                    ? (deadlines.idle, "idle_timeout") : (deadlines.firstToken, "first_token_timeout")
                if state.lastElement + TimeAmount(limit) < due {
                    due = state.lastElement + TimeAmount(limit)
                    silence = .streamSilent(for: limit, setting: setting)
                }
            }
            if now >= due {
                state.finished = true
                let ms = Int((settings.idleTimeout.seconds * 1000).rounded())
                return (
                    silence ?? ProviderError(.timeout, message: "The upstream stream stalled: no data for \(ms)ms"),
                    state.task
                )
            }
            // The first output switches to the (possibly much shorter) idle deadline, so never
            // wait past now + the shortest limit: no deadline set later can fall before that.
            if let deadlines = settings.deadlines {
                due = min(due, now + TimeAmount(min(settings.idleTimeout, deadlines.firstToken, deadlines.idle)))
            }
            state.timer = eventLoop.scheduleTask(deadline: due) { [self] in watch(on: eventLoop) }
            return (nil, nil)
        }
        if let expired = verdict.expired {
            elements.finish(throwing: streamError(expired))
            verdict.task?.cancel()
        }
    }
}

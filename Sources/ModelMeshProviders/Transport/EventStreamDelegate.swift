import ModelMesh
import NIOCore
import NIOHTTP1
import Synchronization

/// Reads one streamed response for ``HTTPTransport/openEventStream(_:headBudget:idleTimeout:decoder:deadlines:carriesOutput:onInvalidEvent:failure:)``
/// as the connection hands it over, on its event loop: parses server-sent events, decodes them
/// and yields the elements, with event-loop timers for the deadlines.
///
/// Elements go to a back-pressured sequence: when the consumer falls behind by more than a
/// few elements the connection stops reading, so a slow client holds the upstream back
/// through TCP instead of growing memory, and reading resumes as it catches up.
///
/// The protocol (head budget, rejections, the end marker, the deadlines) is
/// ``EventStreamMachine``'s: the delegate feeds it the callbacks, timer firings and
/// cancellations under its lock, arms and cancels the timer it asks for there, and carries
/// out the rest of its actions outside the lock.
///
/// Callbacks rather than a task reading the body: per stream that saves three tasks and a
/// `Task.sleep` watchdog, and per chunk two thread hand-offs; it also sees every byte that
/// arrived before a connection broke.
final class EventStreamDelegate<Decoder: SSEEventDecoder>: UpstreamResponseReceiver, NIOAsyncSequenceProducerDelegate {
    typealias Machine = EventStreamMachine<Decoder>
    typealias Opening = Machine.Opening

    struct Settings: Sendable {
        var headBudget: Duration
        var idleTimeout: Duration
        var deadlines: StreamDeadlines?
        var errorLimit: Int
        var maxEventSize: Int
        var maxDuration: Duration?
        /// Scrubs its secrets from stream errors.
        var request: UpstreamRequest
        var carriesOutput: @Sendable (Decoder.Element) -> Bool
        var onInvalidEvent: @Sendable (SSEEvent) -> Void
    }

    private struct State {
        var machine: Machine
        var opening: CheckedContinuation<Opening, any Error>?
        var call: UpstreamCall?
        var timer: Scheduled<Void>?
    }

    /// An action with what is needed to carry it out outside the lock.
    private struct Effects {
        var action: Machine.Action
        var opening: CheckedContinuation<Opening, any Error>?
        var call: UpstreamCall?
    }

    private let settings: Settings
    typealias Elements = NIOThrowingAsyncSequenceProducer<
        Decoder.Element, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark,
        EventStreamDelegate<Decoder>
    >
    private let state: Mutex<State>
    private let source: Mutex<Elements.Source?> = Mutex(nil)

    init(decoder: Decoder, settings: Settings) {
        self.settings = settings
        let configuration = Machine.Configuration(
            headBudget: settings.headBudget, idleTimeout: settings.idleTimeout, deadlines: settings.deadlines,
            errorLimit: settings.errorLimit, carriesOutput: settings.carriesOutput,
            maxEventSize: settings.maxEventSize, maxDuration: settings.maxDuration)
        state = Mutex(State(machine: Machine(decoder: decoder, configuration: configuration)))
    }

    // MARK: Driving

    /// The back-pressured sequence of elements (make it once, before `start`). Reading pauses
    /// when `highWatermark` elements wait for the consumer and resumes at `lowWatermark`.
    func makeElements(lowWatermark: Int = 4, highWatermark: Int = 16) -> Elements {
        let made = Elements.makeSequence(
            backPressureStrategy: .init(lowWatermark: lowWatermark, highWatermark: highWatermark),
            finishOnDeinit: true, delegate: self)
        source.withLock { $0 = made.source }
        return made.sequence
    }

    /// Registers the caller waiting for the head. Call before `start`.
    func awaitOpening(_ continuation: CheckedContinuation<Opening, any Error>) {
        state.withLock { $0.opening = continuation }
    }

    /// The request goes out: arm the head timer, then send it.
    func start(_ call: UpstreamCall) {
        perform(
            state.withLock { state in
                state.call = call
                return settle(state.machine.requestStarted(at: .now()), in: &state, on: call.eventLoop)
            })
        call.start()
    }

    /// The caller (or the consumer of the elements) went away.
    func cancel() {
        perform(state.withLock { settle($0.machine.cancelled(), in: &$0, on: nil) })
    }

    // MARK: UpstreamResponseReceiver

    func receiveHead(_ head: HTTPResponseHead, of call: UpstreamCall) {
        perform(state.withLock { settle($0.machine.headReceived(head, at: .now()), in: &$0, on: call.eventLoop) })
    }

    func receiveBodyPart(_ buffer: ByteBuffer, of call: UpstreamCall) {
        perform(state.withLock { settle($0.machine.bodyPartReceived(buffer, at: .now()), in: &$0, on: call.eventLoop) })
    }

    func receiveEnd(of call: UpstreamCall) {
        perform(state.withLock { settle($0.machine.bodyEnded(), in: &$0, on: call.eventLoop) })
    }

    func receiveFailure(_ error: any Error, of call: UpstreamCall) {
        perform(state.withLock { settle($0.machine.failed(error), in: &$0, on: call.eventLoop) })
    }

    // MARK: NIOAsyncSequenceProducerDelegate

    /// The consumer caught up: read again.
    func produceMore() {
        state.withLock { $0.call }?.resumeReading()
    }

    /// The consumer went away (cancelled, or dropped the sequence).
    func didTerminate() {
        cancel()
        releaseSource()
        state.withLock { $0.call = nil }
    }

    /// The sequence's storage holds this delegate: once the stream ended, let go of it (and
    /// of the call) so neither keeps the other alive.
    private func releaseSource() {
        source.withLock { $0 = nil }
    }

    // MARK: Actions

    private func timerFired(_ timer: Machine.Timer, on eventLoop: any EventLoop) {
        perform(state.withLock { settle($0.machine.timerFired(timer, at: .now()), in: &$0, on: eventLoop) })
    }

    /// Carries out the timer part of `action` (under the lock, so the handle stays the armed
    /// timer's) and takes what the rest needs.
    private func settle(_ action: Machine.Action, in state: inout State, on eventLoop: (any EventLoop)?) -> Effects {
        switch action.timer {
        case .arm(let timer, let deadline):
            state.timer?.cancel()
            state.timer = eventLoop.map { eventLoop in
                eventLoop.scheduleTask(deadline: deadline) { [self] in timerFired(timer, on: eventLoop) }
            }
        case .cancel:
            state.timer?.cancel()
            state.timer = nil
        case nil:
            break
        }
        var effects = Effects(action: action, call: state.call)
        if action.opener != nil {
            effects.opening = state.opening
            state.opening = nil
        }
        return effects
    }

    private func perform(_ effects: Effects) {
        let action = effects.action
        switch action.opener {
        case .open(let opening): effects.opening?.resume(returning: opening)
        case .fail(let error): effects.opening?.resume(throwing: error)
        case nil: break
        }
        for event in action.invalidEvents { settings.onInvalidEvent(event) }
        if !action.elements.isEmpty || action.streamEnd != nil {
            let source = source.withLock { $0 }
            if !action.elements.isEmpty, source?.yield(contentsOf: action.elements) == .stopProducing {
                effects.call?.pauseReading()
            }
            switch action.streamEnd {
            case .finished:
                source?.finish()
                releaseSource()
            case .failed(let error):
                source?.finish(streamError(error))
                releaseSource()
            case nil: break
            }
        }
        if action.cancelRequest { effects.call?.cancel() }
    }

    /// A failure after the head, classified and scrubbed.
    private func streamError(_ error: any Error) -> ProviderError {
        settings.request.redact(HTTPTransport.classifyTransportError(error, afterHead: true, budget: nil))
    }
}

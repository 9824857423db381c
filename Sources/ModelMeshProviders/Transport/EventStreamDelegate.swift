import AsyncHTTPClient
import ModelMesh
import NIOCore
import NIOHTTP1
import Synchronization

/// Reads one streamed response for ``HTTPTransport/openEventStream(_:headBudget:idleTimeout:decoder:deadlines:carriesOutput:onInvalidEvent:failure:)``
/// as AsyncHTTPClient hands it over, on the connection's event loop: parses server-sent
/// events, decodes them and yields the elements, with event-loop timers for the deadlines.
///
/// The protocol (head budget, rejections, the end marker, the deadlines) is
/// ``EventStreamMachine``'s: the delegate feeds it the callbacks, timer firings and
/// cancellations under its lock, arms and cancels the timer it asks for there, and carries
/// out the rest of its actions outside the lock.
///
/// A delegate rather than the async API and a task reading the body: per stream that saves
/// three tasks and a `Task.sleep` watchdog, and per chunk two thread hand-offs; it also sees
/// every byte that arrived before a connection broke.
final class EventStreamDelegate<Decoder: SSEEventDecoder>: HTTPClientResponseDelegate {
    typealias Response = Void
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
        var task: HTTPClient.Task<Void>?
        var timer: Scheduled<Void>?
    }

    /// An action with what is needed to carry it out outside the lock.
    private struct Effects {
        var action: Machine.Action
        var opening: CheckedContinuation<Opening, any Error>?
        var task: HTTPClient.Task<Void>?
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
        let configuration = Machine.Configuration(
            headBudget: settings.headBudget, idleTimeout: settings.idleTimeout, deadlines: settings.deadlines,
            errorLimit: settings.errorLimit, carriesOutput: settings.carriesOutput,
            maxEventSize: settings.maxEventSize, maxDuration: settings.maxDuration)
        state = Mutex(State(machine: Machine(decoder: decoder, configuration: configuration)))
    }

    // MARK: Driving

    /// Registers the caller waiting for the head. Call before `start`.
    func awaitOpening(_ continuation: CheckedContinuation<Opening, any Error>) {
        state.withLock { $0.opening = continuation }
    }

    /// The request was handed to the client: arm the head timer.
    func start(_ task: HTTPClient.Task<Void>) {
        perform(
            state.withLock { state in
                state.task = task
                return settle(state.machine.requestStarted(at: .now()), in: &state, on: task.eventLoop)
            })
    }

    /// The caller (or the consumer of the elements) went away.
    func cancel() {
        perform(state.withLock { settle($0.machine.cancelled(), in: &$0, on: nil) })
    }

    // MARK: HTTPClientResponseDelegate

    func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        perform(
            state.withLock {
                settle($0.machine.headReceived(head, at: .now()), in: &$0, on: task.eventLoop, task: task)
            })
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        perform(
            state.withLock {
                settle($0.machine.bodyPartReceived(buffer, at: .now()), in: &$0, on: task.eventLoop, task: task)
            })
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didFinishRequest(task: HTTPClient.Task<Void>) throws {
        perform(state.withLock { settle($0.machine.bodyEnded(), in: &$0, on: task.eventLoop, task: task) })
    }

    func didReceiveError(task: HTTPClient.Task<Void>, _ error: any Error) {
        perform(state.withLock { settle($0.machine.failed(error), in: &$0, on: task.eventLoop, task: task) })
    }

    // MARK: Actions

    private func timerFired(_ timer: Machine.Timer, on eventLoop: any EventLoop) {
        perform(state.withLock { settle($0.machine.timerFired(timer, at: .now()), in: &$0, on: eventLoop) })
    }

    /// Carries out the timer part of `action` (under the lock, so the handle stays the armed
    /// timer's) and takes what the rest needs.
    private func settle(
        _ action: Machine.Action, in state: inout State, on eventLoop: (any EventLoop)?,
        task: HTTPClient.Task<Void>? = nil
    ) -> Effects {
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
        var effects = Effects(action: action, task: state.task ?? task)
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
        for element in action.elements { elements.yield(element) }
        switch action.streamEnd {
        case .finished: elements.finish()
        case .failed(let error): elements.finish(throwing: streamError(error))
        case nil: break
        }
        if action.cancelRequest { effects.task?.cancel() }
    }

    /// A failure after the head, classified and scrubbed.
    private func streamError(_ error: any Error) -> ProviderError {
        settings.request.redact(HTTPTransport.classifyTransportError(error, afterHead: true, budget: nil))
    }
}

import NIOCore
import NIOHTTP1

/// Receives one upstream response on the call's event loop, in order: the head, body parts,
/// then exactly one of `receiveEnd` or `receiveFailure`.
protocol UpstreamResponseReceiver: AnyObject, Sendable {
    func receiveHead(_ head: HTTPResponseHead, of call: UpstreamCall)
    func receiveBodyPart(_ buffer: ByteBuffer, of call: UpstreamCall)
    func receiveEnd(of call: UpstreamCall)
    func receiveFailure(_ error: any Error, of call: UpstreamCall)
}

/// Why a call failed in the data plane itself (network errors pass through as they are).
enum UpstreamCallError: Error, Equatable, CustomStringConvertible {
    /// The connection closed before any byte of the response.
    case closedBeforeResponse
    /// The connection closed in the middle of the response.
    case closedMidResponse
    /// The call was cancelled (its caller went away or a deadline ended it).
    case cancelled
    /// The transport was shut down.
    case shutDown
    /// HTTPS was asked for but the TLS settings were refused (the reason says why).
    case tlsUnavailable(String)

    var description: String {
        switch self {
        case .closedBeforeResponse: "The upstream closed the connection before answering"
        case .closedMidResponse: "The upstream closed the connection in the middle of the response"
        case .cancelled: "The request was cancelled"
        case .shutDown: "The HTTP transport was already shut down"
        case .tlsUnavailable(let reason): "HTTPS is unavailable: the TLS settings were refused (\(reason))"
        }
    }
}

/// One request and its response over the per-event-loop pool.
///
/// All state lives on ``eventLoop``: the pool, the connection's handler and the timers call
/// it there. ``cancel(with:)``, ``pauseReading()`` and ``resumeReading()`` may be called from
/// anywhere and hop onto the loop.
///
/// A request that fails on a reused keep-alive connection before any byte of the answer is
/// sent once more on a new connection: the upstream closed an idle connection as the request
/// went out, which says nothing about its health.
final class UpstreamCall: @unchecked Sendable {
    enum State {
        /// Not started, or waiting for a connection.
        case waiting
        /// Writing the request / reading the response on `connection`.
        case running(UpstreamConnection)
        /// Ended: the receiver heard the end or a failure.
        case done
    }

    let eventLoop: any EventLoop
    let endpoint: UpstreamEndpoint
    let head: HTTPRequestHead
    let body: ByteBuffer?
    private let pool: UpstreamLoopPool
    /// Dropped when the call ends: a receiver may hold the call, and the pair must not keep
    /// each other alive.
    private var receiver: (any UpstreamResponseReceiver)?
    private var state = State.waiting
    private var retried = false
    private var responseStarted = false
    private var paused = false
    private var deadline: Scheduled<Void>?

    init(
        pool: UpstreamLoopPool, endpoint: UpstreamEndpoint, head: HTTPRequestHead, body: ByteBuffer?,
        receiver: any UpstreamResponseReceiver
    ) {
        self.pool = pool
        self.eventLoop = pool.eventLoop
        self.endpoint = endpoint
        self.head = head
        self.body = body
        self.receiver = receiver
    }

    // MARK: From any thread

    /// Asks the pool for a connection and sends the request; `deadline` fails the call with
    /// `timeoutError` when it has not ended by then.
    func start(deadline: NIODeadline? = nil, timeoutError: @escaping @Sendable () -> any Error = { UpstreamCallError.cancelled }) {
        onLoop { call in
            if let deadline {
                call.deadline = call.eventLoop.scheduleTask(deadline: deadline) { call.fail(timeoutError()) }
            }
            call.pool.acquire(for: call, fresh: false)
        }
    }

    /// Ends the call: an open connection is closed (its answer cannot be reused), and the
    /// receiver hears `error` unless the call already ended.
    func cancel(with error: any Error = UpstreamCallError.cancelled) {
        onLoop { $0.fail(error) }
    }

    /// Stops reading the response until ``resumeReading()``: the upstream is then held back by
    /// TCP flow control instead of filling memory.
    func pauseReading() {
        onLoop { call in
            call.paused = true
            if case .running(let connection) = call.state { connection.handler.pauseReading() }
        }
    }

    /// Reads the response again after ``pauseReading()``.
    func resumeReading() {
        onLoop { call in
            call.paused = false
            if case .running(let connection) = call.state { connection.handler.resumeReading() }
        }
    }

    private func onLoop(_ body: @escaping @Sendable (UpstreamCall) -> Void) {
        if eventLoop.inEventLoop {
            body(self)
        } else {
            eventLoop.execute { body(self) }
        }
    }

    // MARK: On the loop (pool and handler)

    /// Whether the call still wants a connection (the pool skips ended waiters).
    var isWaiting: Bool {
        if case .waiting = state { return true }
        return false
    }

    /// The pool handed over `connection`: send the request on it.
    func run(on connection: UpstreamConnection) {
        guard case .waiting = state else {
            // Ended while the connection was being set up: it is unused and goes back.
            pool.release(connection, reusable: true)
            return
        }
        state = .running(connection)
        connection.served += 1
        guard connection.handler.start(self) else {
            connectionBroke(UpstreamCallError.closedBeforeResponse, connection: connection)
            return
        }
        if paused { connection.handler.pauseReading() }
    }

    /// No connection could be had.
    func connectionFailed(_ error: any Error) {
        guard case .waiting = state else { return }
        finish()?.receiveFailure(error, of: self)
    }

    func receivedHead(_ head: HTTPResponseHead) {
        guard case .running = state else { return }
        responseStarted = true
        receiver?.receiveHead(head, of: self)
    }

    func receivedBodyPart(_ buffer: ByteBuffer) {
        guard case .running = state else { return }
        receiver?.receiveBodyPart(buffer, of: self)
    }

    /// The response ended; the connection goes back to the pool when `reusable`.
    func receivedEnd(reusable: Bool) {
        guard case .running(let connection) = state else { return }
        let receiver = finish()
        pool.release(connection, reusable: reusable)
        receiver?.receiveEnd(of: self)
    }

    /// The connection failed under the call (it is closing and leaves the pool by itself).
    func connectionBroke(_ error: any Error, connection: UpstreamConnection) {
        guard case .running(let current) = state, current === connection else { return }
        if !responseStarted, !retried, connection.reused {
            retried = true
            state = .waiting
            pool.acquire(for: self, fresh: true)
            return
        }
        finish()?.receiveFailure(error, of: self)
    }

    private func fail(_ error: any Error) {
        let receiver: (any UpstreamResponseReceiver)?
        switch state {
        case .done:
            return
        case .waiting:
            receiver = finish()
        case .running(let connection):
            receiver = finish()
            connection.handler.detach()
            connection.close()
        }
        receiver?.receiveFailure(error, of: self)
    }

    /// Marks the call ended and hands back the receiver for its last callback.
    @discardableResult
    private func finish() -> (any UpstreamResponseReceiver)? {
        state = .done
        deadline?.cancel()
        deadline = nil
        defer { receiver = nil }
        return receiver
    }
}

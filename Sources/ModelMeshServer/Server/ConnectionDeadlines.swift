import NIOCore

/// When one client connection has waited too long for its client, as a value-type state
/// machine fed the connection's events; ``EdgeLimitsHandler`` drives it and keeps one timer
/// armed at ``deadline``.
///
/// Three waits are bounded, all on the client: for a complete request head (from connecting,
/// or from the first byte of a later request), between the bytes of a request body, and
/// between requests on a keep-alive connection. While the proxy is answering nothing is
/// bounded here, so a long stream is never cut.
struct ConnectionDeadlines {
    enum Phase: Equatable {
        /// Connected, or the next request has begun: the head is not complete yet.
        case awaitingHead
        /// The head arrived; the body has not ended.
        case readingBody
        /// The request is complete and its answer is on its way.
        case responding
        /// Between requests on a keep-alive connection.
        case idle
        /// The connection has been given up.
        case closed
    }

    /// What the handler does when the timer fires.
    enum Action: Equatable {
        /// Nothing is due yet (the handler re-arms at ``deadline`` when there is one).
        case none
        /// Answer 408 to the waiting request, then close: nothing has been sent for it.
        case answerTimeoutAndClose(limit: Limit)
        /// Close without an answer: between requests, or part of an answer went out already.
        case close
    }

    /// Which limit ran out, as named under `proxy.limits`.
    enum Limit: String, Equatable {
        case head = "head_timeout"
        case body = "body_timeout"
    }

    let headTimeout: TimeAmount
    let bodyTimeout: TimeAmount
    let idleTimeout: TimeAmount

    private(set) var phase: Phase = .awaitingHead
    /// When the current wait runs out; nil while nothing is awaited from the client.
    private(set) var deadline: NIODeadline?
    /// Requests received whose answer has not ended (more than one when pipelined).
    private var unanswered = 0
    /// Whether the head of the oldest unanswered request's answer has been sent.
    private var answerStarted = false

    init(headTimeout: TimeAmount, bodyTimeout: TimeAmount, idleTimeout: TimeAmount, now: NIODeadline) {
        self.headTimeout = headTimeout
        self.bodyTimeout = bodyTimeout
        self.idleTimeout = idleTimeout
        deadline = now + headTimeout
    }

    /// Bytes arrived from the client (before they are decoded).
    mutating func bytesReceived(now: NIODeadline) {
        switch phase {
        case .idle:
            phase = .awaitingHead
            deadline = now + headTimeout
        case .readingBody where deadline != nil:
            deadline = now + bodyTimeout
        case .awaitingHead, .readingBody, .responding, .closed:
            break
        }
    }

    mutating func headReceived(now: NIODeadline) {
        guard phase != .closed else { return }
        unanswered += 1
        phase = .readingBody
        // A pipelined request's body may wait behind the answer before it; its wait starts
        // once that answer has ended.
        deadline = unanswered == 1 ? now + bodyTimeout : nil
    }

    mutating func endReceived(now: NIODeadline) {
        guard phase == .readingBody else { return }
        if unanswered == 0 {
            // Answered before the body was read to its end.
            phase = .idle
            deadline = now + idleTimeout
        } else {
            phase = .responding
            deadline = nil
        }
    }

    mutating func answerHeadSent() {
        answerStarted = true
    }

    mutating func answerEnded(now: NIODeadline) {
        guard phase != .closed, unanswered > 0 else { return }
        unanswered -= 1
        answerStarted = false
        switch phase {
        case .responding where unanswered == 0:
            phase = .idle
            deadline = now + idleTimeout
        case .readingBody where unanswered == 1 && deadline == nil:
            deadline = now + bodyTimeout
        default:
            break
        }
    }

    /// The timer fired at `now`.
    mutating func deadlineReached(now: NIODeadline) -> Action {
        guard let deadline, now >= deadline else { return .none }
        let action: Action
        switch phase {
        case .awaitingHead:
            action = unanswered == 0 ? .answerTimeoutAndClose(limit: .head) : .close
        case .readingBody:
            action = unanswered == 1 && !answerStarted ? .answerTimeoutAndClose(limit: .body) : .close
        case .idle:
            action = .close
        case .responding, .closed:
            return .none
        }
        phase = .closed
        self.deadline = nil
        return action
    }

    /// The connection is being closed for another reason; nothing more is due.
    mutating func close() {
        phase = .closed
        deadline = nil
    }

    /// Whether an error answer may still be sent for the request being read: nothing of an
    /// answer to it (or to an earlier request) is on its way.
    var canAnswer: Bool {
        phase != .closed && (unanswered == 0 || (unanswered == 1 && !answerStarted && phase != .responding))
    }
}

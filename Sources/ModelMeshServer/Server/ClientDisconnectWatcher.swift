import NIOCore
import Synchronization

/// Notices when the client of a connection goes away, so that a request still waiting for
/// its upstream answer can be cancelled instead of spending tokens nobody will read.
///
/// One watcher sits at the front of each connection's pipeline. The client is gone once it
/// closed its side (the proxy allows half-closure, so that arrives as `inputClosed`) or the
/// connection closed. Like nginx's "client closed request", a half-close counts: an HTTP/1.1
/// client that shuts its sending side has, in practice, given up on the answer.
///
/// HTTP/1.1 serves one request at a time per connection, so one waiter at a time is enough.
final class ClientDisconnectWatcher: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    private struct State {
        var gone = false
        /// The task to cancel when the client goes away: registered by
        /// ``cancelWhenGone(_:)`` and removed by ``stopCancelling()`` before that task can end.
        var task: RequestTask?
    }

    /// A request's task as the watcher holds it. Sound because the watcher only touches it
    /// under its lock, and the task removes it (``stopCancelling()``) before it can end.
    struct RequestTask: @unchecked Sendable {
        let task: UnsafeCurrentTask
    }

    private let state = Mutex(State())

    /// Whether the client has gone away.
    var isGone: Bool { state.withLock { $0.gone } }

    /// Cancels `task` (the caller's own) when the client goes away, until
    /// ``stopCancelling()``; returns `false`, registering nothing, when it is gone already.
    ///
    /// The caller must call ``stopCancelling()`` before its task can end: the task is
    /// cancelled under the same lock, so it is never touched once it was removed.
    func cancelWhenGone(_ task: UnsafeCurrentTask) -> Bool {
        let request = RequestTask(task: task)
        return state.withLock { state in
            if state.gone { return false }
            state.task = request
            return true
        }
    }

    /// Ends what ``cancelWhenGone(_:)`` started.
    func stopCancelling() {
        state.withLock { $0.task = nil }
    }

    private func markGone() {
        state.withLock { state in
            state.gone = true
            // Under the lock: the task cannot finish (it must stop the cancelling first).
            state.task?.task.cancel()
            state.task = nil
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { markGone() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        markGone()
        context.fireChannelInactive()
    }

    /// The watcher of `channel`, when called on the channel's event loop (where request
    /// handlers run, see ``EventLoopAffineChildChannel``); nil elsewhere.
    static func of(_ channel: any Channel) -> ClientDisconnectWatcher? {
        guard channel.eventLoop.inEventLoop else { return nil }
        return try? channel.pipeline.syncOperations.handler(type: ClientDisconnectWatcher.self)
    }
}

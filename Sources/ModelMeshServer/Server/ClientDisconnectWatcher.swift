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
        /// Set when the current wait is cancelled before its continuation was stored.
        var waitCancelled = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Whether the client has gone away.
    var isGone: Bool { state.withLock { $0.gone } }

    /// Returns once the client has gone away, or at once when the calling task is cancelled.
    func waitUntilGone() async {
        state.withLock { $0.waitCancelled = false }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.gone || s.waitCancelled { return true }
                    s.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                s.waitCancelled = true
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume()
        }
    }

    private func markGone() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.gone = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
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

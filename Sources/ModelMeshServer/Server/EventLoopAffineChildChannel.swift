import HummingbirdCore
import Logging
import ModelMeshProviders
import NIOCore

/// Wraps a Hummingbird child channel so that each connection is handled by a task that
/// prefers the connection's own event loop.
///
/// Without it every request crosses threads several times: the loop reads it, a Swift
/// concurrency pool thread routes it, the client's loop sends it upstream, and back again.
/// On small machines those wake-ups cost far more than the routing.
struct EventLoopAffineChildChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            try channel.pipeline.syncOperations.addHandler(ClientDisconnectWatcher(), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(value.channel.eventLoop)) {
            await inner.handle(value: value, logger: logger)
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 where each connection's requests run on the connection's event loop.
    static func eventLoopAffineHTTP1(configuration: HTTP1Channel.Configuration = .init()) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            EventLoopAffineChildChannel(inner: HTTP1Channel(responder: responder, configuration: configuration))
        }
    }
}

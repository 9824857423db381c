import HummingbirdCore
import Logging
import ModelMesh
import ModelMeshProviders
import NIOCore

/// Wraps a Hummingbird child channel so that each connection is handled by a task that
/// prefers the connection's own event loop, and guards it with `proxy.limits`.
///
/// Without the affinity every request crosses threads several times: the loop reads it, a
/// Swift concurrency pool thread routes it, the client's loop sends it upstream, and back
/// again. On small machines those wake-ups cost far more than the routing.
///
/// The limits: every connection gets an ``EdgeLimitsHandler`` after the HTTP codec (fed by a
/// ``RequestBytesObserver`` at the front), and a connection beyond `max_connections` is
/// marked so that its first request is answered 503 and the connection closed.
struct EventLoopAffineChildChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner
    let limits: ProxyConfiguration.Limits
    let connections: ConnectionCount
    /// The routes answered from the pipeline (nil: Hummingbird answers everything).
    let hotRoutes: HotRoutes?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let refused = connections.opened() > limits.maxConnections
        let connections = connections
        channel.closeFuture.whenComplete { _ in connections.closed() }
        let edge = EdgeLimitsHandler(limits: limits, refused: refused)
        do {
            let pipeline = channel.pipeline.syncOperations
            try pipeline.addHandler(ClientDisconnectWatcher(), position: .first)
            try pipeline.addHandler(RequestBytesObserver(limits: edge), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return inner.setup(channel: channel, logger: logger).assumeIsolated().flatMapThrowing { value in
            // Right after the codec, where Hummingbird puts its own additional handlers.
            let pipeline = channel.pipeline.syncOperations
            let state = try pipeline.handler(type: HTTPConnectionStateHandler.self)
            try pipeline.addHandler(edge, position: .before(state))
            if let hotRoutes {
                try pipeline.addHandler(
                    HotRouteHandler(routes: hotRoutes, eventLoop: channel.eventLoop), position: .after(state))
            }
            return value
        }.nonisolated()
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(value.channel.eventLoop)) {
            await inner.handle(value: value, logger: logger)
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 where each connection's requests run on the connection's event loop, within
    /// `limits`, with `hotRoutes` answered from the pipeline.
    static func eventLoopAffineHTTP1(limits: ProxyConfiguration.Limits = .init(), hotRoutes: HotRoutes? = nil)
        -> HTTPServerBuilder
    {
        let connections = ConnectionCount()
        // The edge handler owns the timeouts: Hummingbird's one idle timeout cannot tell the
        // head, body and keep-alive waits apart, and closes without an answer.
        let configuration = HTTP1Channel.Configuration(
            idleTimeout: nil,
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: limits.maxHeaderSize, maxHeaderListSize: limits.maxHeaderSize,
                maxHeaderFieldCount: limits.maxHeaders))
        return HTTPServerBuilder { responder in
            EventLoopAffineChildChannel(
                inner: HTTP1Channel(responder: responder, configuration: configuration), limits: limits,
                connections: connections, hotRoutes: hotRoutes)
        }
    }
}

import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOPosix

/// One step of an upstream answer, delivered on the event loop that asked for it.
enum UpstreamEvent {
    case head(HTTPResponseHead)
    case body(ByteBuffer)
    /// The end of one read from the upstream: a good moment to flush what was written.
    case flush
    case end
    case failed(any Error)
}

/// Sends a request to the upstream and reports the answer part by part.
protocol Upstream: Sendable {
    /// Called on `eventLoop`; `sink` is called on it too, never after `.end` or `.failed`.
    func forward(
        _ head: HTTPRequestHead, body: ByteBuffer, on eventLoop: any EventLoop,
        sink: @escaping (UpstreamEvent) -> Void)
}

extension HTTPHeaders {
    private static let hopByHop = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
    ]

    /// The end-to-end headers: without the hop-by-hop ones and those that `Connection` names.
    func endToEnd() -> HTTPHeaders {
        var headers = self
        for name in self[canonicalForm: "connection"] { headers.remove(name: String(name)) }
        for name in Self.hopByHop { headers.remove(name: name) }
        return headers
    }
}

// MARK: - Bare SwiftNIO client

/// Keep-alive connections to the upstream, one pool per event loop: a request is sent on a
/// connection of the loop that serves it, so a request never changes threads.
struct NIOUpstream: Upstream {
    private let pools: [ObjectIdentifier: ConnectionPool]

    init(group: any EventLoopGroup, host: String, port: Int) {
        pools = Dictionary(
            uniqueKeysWithValues: group.makeIterator().map {
                (ObjectIdentifier($0), ConnectionPool(eventLoop: $0, host: host, port: port))
            })
    }

    func forward(
        _ head: HTTPRequestHead, body: ByteBuffer, on eventLoop: any EventLoop,
        sink: @escaping (UpstreamEvent) -> Void
    ) {
        pools[ObjectIdentifier(eventLoop)]!.lease { result in
            switch result {
            case .success(let connection): connection.send(head, body: body, sink: sink)
            case .failure(let error): sink(.failed(error))
            }
        }
    }
}

/// The idle connections of one event loop.
///
/// Unchecked `Sendable`: shared by the loop's server connections, its state is only touched on `eventLoop`.
final class ConnectionPool: @unchecked Sendable {
    let eventLoop: any EventLoop
    private let host: String
    private let port: Int
    private var idle: [UpstreamConnection] = []

    init(eventLoop: any EventLoop, host: String, port: Int) {
        (self.eventLoop, self.host, self.port) = (eventLoop, host, port)
    }

    func lease(_ done: @escaping (Result<UpstreamConnection, any Error>) -> Void) {
        eventLoop.assertInEventLoop()
        while let connection = idle.popLast() {
            if connection.isUsable { return done(.success(connection)) }
        }
        ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(UpstreamConnection(pool: self))
                }
            }
            .connect(host: host, port: port)
            .assumeIsolated()
            .whenComplete { result in
                done(
                    result.flatMap { channel in
                        Result { try channel.pipeline.syncOperations.handler(type: UpstreamConnection.self) }
                    })
            }
    }

    func release(_ connection: UpstreamConnection) {
        idle.append(connection)
    }
}

/// One keep-alive connection to the upstream: sends a request, relays its answer to the sink.
final class UpstreamConnection: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let pool: ConnectionPool
    private var context: ChannelHandlerContext?
    private var sink: ((UpstreamEvent) -> Void)?
    private var keepAlive = false

    init(pool: ConnectionPool) { self.pool = pool }

    var isUsable: Bool { context?.channel.isActive ?? false }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func send(_ head: HTTPRequestHead, body: ByteBuffer, sink: @escaping (UpstreamEvent) -> Void) {
        guard let context else { return sink(.failed(ChannelError.ioOnClosedChannel)) }
        self.sink = sink
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
            sink?(.head(head))
        case .body(let part):
            sink?(.body(part))
        case .end:
            let sink = sink
            self.sink = nil
            if keepAlive { pool.release(self) } else { context.close(promise: nil) }
            sink?(.end)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        sink?(.flush)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        fail(ChannelError.eof)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }

    private func fail(_ error: any Error) {
        let sink = sink
        self.sink = nil
        sink?(.failed(error))
    }
}

// MARK: - AsyncHTTPClient

/// AsyncHTTPClient's callback API, its connection and delegate on the serving event loop.
struct AHCUpstream: Upstream {
    let client: HTTPClient
    /// `http://host:port`, the request's path is appended.
    let base: String

    func forward(
        _ head: HTTPRequestHead, body: ByteBuffer, on eventLoop: any EventLoop,
        sink: @escaping (UpstreamEvent) -> Void
    ) {
        do {
            let request = try HTTPClient.Request(
                url: base + head.uri, method: head.method, headers: head.headers, body: .byteBuffer(body))
            _ = client.execute(
                request: request, delegate: Relay(sink: NIOLoopBound(sink, eventLoop: eventLoop)),
                eventLoop: .delegateAndChannel(on: eventLoop))
        } catch {
            sink(.failed(error))
        }
    }

    /// Hands each part to the sink as it arrives, without waiting for the server's writes.
    private final class Relay: HTTPClientResponseDelegate {
        typealias Response = Void
        let sink: NIOLoopBound<(UpstreamEvent) -> Void>

        init(sink: NIOLoopBound<(UpstreamEvent) -> Void>) { self.sink = sink }

        func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
            sink.value(.head(head))
            return task.eventLoop.makeSucceededVoidFuture()
        }

        func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
            sink.value(.body(buffer))
            sink.value(.flush)
            return task.eventLoop.makeSucceededVoidFuture()
        }

        func didFinishRequest(task: HTTPClient.Task<Void>) throws { sink.value(.end) }

        func didReceiveError(task: HTTPClient.Task<Void>, _ error: any Error) { sink.value(.failed(error)) }
    }
}

extension HTTPClient {
    /// A client like the one `modelmesh serve` uses: many connections per host, no
    /// decompression, no redirects, no tracing.
    static func passthrough(on group: any EventLoopGroup) -> HTTPClient {
        var pool = HTTPClient.Configuration.ConnectionPool()
        pool.concurrentHTTP1ConnectionsPerHostSoftLimit = 8192
        var configuration = HTTPClient.Configuration(connectionPool: pool, decompression: .disabled)
        configuration.redirectConfiguration = .disallow
        configuration.tracing.tracer = nil
        return HTTPClient(eventLoopGroup: group, configuration: configuration)
    }
}

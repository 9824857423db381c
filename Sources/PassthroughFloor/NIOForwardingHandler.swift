import NIOCore
import NIOHTTP1

/// Serves one client connection with bare SwiftNIO: collects each request, forwards it, and
/// writes the upstream's answer back part by part as it arrives.
///
/// `HTTPServerPipelineHandler` in front holds a pipelined request back until the answer to
/// the one before has ended, so at most one request per connection is in flight here.
final class NIOForwardingHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let upstream: any Upstream
    private var head: HTTPRequestHead?
    private var body: ByteBuffer

    init(upstream: any Upstream, allocator: ByteBufferAllocator) {
        self.upstream = upstream
        body = allocator.buffer(capacity: 1024)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body.clear()
        case .body(var part):
            body.writeBuffer(&part)
        case .end:
            guard var request = head else { return }
            head = nil
            let keepAlive = request.isKeepAlive
            let version = request.version
            request.version = .http1_1
            request.headers = request.headers.endToEnd()
            request.headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes))
            var answered = false
            upstream.forward(request, body: body, on: context.eventLoop) { [self] event in
                switch event {
                case .head(var response):
                    answered = true
                    response.version = version
                    response.headers = response.headers.endToEnd()
                    if !keepAlive { response.headers.add(name: "connection", value: "close") }
                    context.write(wrapOutboundOut(.head(response)), promise: nil)
                case .body(let part):
                    context.write(wrapOutboundOut(.body(.byteBuffer(part))), promise: nil)
                case .flush:
                    context.flush()
                case .end:
                    finish(context: context, keepAlive: keepAlive)
                case .failed:
                    // Half an answer cannot be repaired: the client sees the connection end.
                    guard !answered else { return context.close(promise: nil) }
                    let headers: HTTPHeaders = [
                        "content-length": "0", "connection": keepAlive ? "keep-alive" : "close",
                    ]
                    context.write(
                        wrapOutboundOut(
                            .head(HTTPResponseHead(version: version, status: .badGateway, headers: headers))),
                        promise: nil)
                    finish(context: context, keepAlive: keepAlive)
                }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func finish(context: ChannelHandlerContext, keepAlive: Bool) {
        guard !keepAlive else { return context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

import NIOCore
import NIOHTTP1

/// One keep-alive HTTP/1.1 connection to an upstream, owned by a ``UpstreamLoopPool`` and
/// used by one ``UpstreamCall`` at a time. Lives on its channel's event loop.
final class UpstreamConnection: @unchecked Sendable {
    let channel: any Channel
    let handler: UpstreamClientHandler
    let endpoint: UpstreamEndpoint
    /// Requests started on it so far.
    var served = 0
    /// When it last went back to the pool; nil while a request uses it.
    var idleSince: NIODeadline?
    /// The idle-timeout check. One check serves many idle spells: a connection taken and given
    /// back before it fires is not re-armed per request, the check itself waits the rest.
    var idleTimer: Scheduled<Void>?

    init(channel: any Channel, handler: UpstreamClientHandler, endpoint: UpstreamEndpoint) {
        self.channel = channel
        self.handler = handler
        self.endpoint = endpoint
    }

    /// Whether the current request is not the connection's first (a stale keep-alive
    /// connection fails only then).
    var reused: Bool { served > 1 }

    func close() {
        channel.close(mode: .all, promise: nil)
    }
}

/// The last handler of an upstream connection's pipeline: writes the current call's request,
/// hands the response parts to it, and holds reads back while the call is paused.
final class UpstreamClientHandler: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private var call: UpstreamCall?
    private var context: ChannelHandlerContext?
    /// Set once the channel exists as a pooled connection.
    weak var connection: UpstreamConnection?
    private var responseKeepAlive = true
    private var responseStarted = false
    private var paused = false
    private var readPending = false

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: Calls

    /// Sends `call`'s request; false when the connection's pipeline is already gone.
    func start(_ call: UpstreamCall) -> Bool {
        guard let context, context.channel.isActive else { return false }
        self.call = call
        responseStarted = false
        responseKeepAlive = true
        var head = call.head
        head.headers.replaceOrAdd(name: "host", value: call.endpoint.hostHeader)
        if let body = call.body {
            head.headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes))
        } else if head.method == .POST || head.method == .PUT || head.method == .PATCH {
            head.headers.replaceOrAdd(name: "content-length", value: "0")
        }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body = call.body, body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.whenFailure { [weak self] _ in
            // A write into a closed socket: the inactive/error path settles the call; make
            // sure the connection goes.
            guard let self, self.call === call else { return }
            self.context?.close(promise: nil)
        }
        resumeReading()
        return true
    }

    /// The call ended early (cancelled or timed out): its parts are no longer delivered.
    func detach() {
        call = nil
    }

    func pauseReading() {
        paused = true
    }

    func resumeReading() {
        paused = false
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    // MARK: Channel events

    func read(context: ChannelHandlerContext) {
        if paused {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let call else {
            // Bytes on an idle connection (or after a cancelled call): the framing is lost.
            context.close(promise: nil)
            return
        }
        switch unwrapInboundIn(data) {
        case .head(let head):
            // 1xx answers precede the real one.
            if head.status.code >= 100 && head.status.code < 200 && head.status != .switchingProtocols { return }
            responseStarted = true
            responseKeepAlive = head.isKeepAlive && Self.isFramed(head)
            call.receivedHead(head)
        case .body(let buffer):
            call.receivedBodyPart(buffer)
        case .end:
            self.call = nil
            let reusable = responseKeepAlive && call.head.isKeepAlive
            paused = false
            call.receivedEnd(reusable: reusable)
            if !reusable { context.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        broke(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        broke(responseStarted ? UpstreamCallError.closedMidResponse : UpstreamCallError.closedBeforeResponse)
        context.fireChannelInactive()
    }

    private func broke(_ error: any Error) {
        guard let call, let connection else { return }
        self.call = nil
        call.connectionBroke(error, connection: connection)
    }

    /// Whether the body's end is marked by a length or chunking, not by the connection closing.
    private static func isFramed(_ head: HTTPResponseHead) -> Bool {
        if head.status == .noContent || head.status == .notModified { return true }
        if head.headers.contains(name: "content-length") { return true }
        return head.headers[canonicalForm: "transfer-encoding"].contains { $0.lowercased() == "chunked" }
    }
}

import HTTPTypes
import ModelMesh
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Enforces `proxy.limits` on one client connection: the head, body and idle timeouts (with
/// ``ConnectionDeadlines``), 431 for heads beyond the decoder's limits, and 503 for a
/// connection over `max_connections`.
///
/// It sits after the HTTP/1 codec, so it sees each request as parts and each answer as it is
/// written; a ``RequestBytesObserver`` at the front of the pipeline tells it when bytes
/// arrive that the codec has not turned into a part yet. Error answers are written here, on
/// the connection's event loop, because no request reaches the router in these cases.
final class EdgeLimitsHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The request body stopped arriving: the body reader fails instead of seeing a short body.
    struct BodyTimeout: Error {}

    private let limits: ProxyConfiguration.Limits
    /// The connection is over `max_connections`: its first request is answered 503.
    private let refused: Bool
    private var deadlines: ConnectionDeadlines?
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?

    init(limits: ProxyConfiguration.Limits, refused: Bool) {
        self.limits = limits
        self.refused = refused
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        start()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadlines?.close()
        disarm()
        context.fireChannelInactive()
    }

    private func start() {
        guard deadlines == nil else { return }
        deadlines = ConnectionDeadlines(
            headTimeout: Self.timeAmount(limits.headTimeout), bodyTimeout: Self.timeAmount(limits.bodyTimeout),
            idleTimeout: Self.timeAmount(limits.idleTimeout), now: .now())
        arm()
    }

    /// Called by the ``RequestBytesObserver`` for every read, before the codec decodes it.
    func bytesReceived() {
        guard deadlines != nil else { return }
        deadlines?.bytesReceived(now: .now())
        arm()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch part {
        case .head:
            deadlines?.headReceived(now: .now())
            if refused {
                deadlines?.close()
                disarm()
                answer(.tooManyConnections(limit: limits.maxConnections), context: context)
                return
            }
        case .body:
            break
        case .end:
            deadlines?.endReceived(now: .now())
        }
        arm()
        // A refused connection's request never reaches the router.
        if deadlines?.phase == .closed { return }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head:
            deadlines?.answerHeadSent()
        case .body:
            break
        case .end:
            deadlines?.answerEnded(now: .now())
            arm()
        }
        context.write(data, promise: promise)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let parserError = error as? HTTPParserError, parserError == .headerOverflow, deadlines?.canAnswer == true {
            deadlines?.close()
            disarm()
            answer(.headersTooLarge(maxSize: limits.maxHeaderSize, maxCount: limits.maxHeaders), context: context)
            return
        }
        context.fireErrorCaught(error)
    }

    // MARK: Timer

    /// Keeps one timer armed at the current deadline, moving it only when the deadline comes
    /// earlier: a later deadline is picked up when the timer fires, so a busy connection does
    /// not reschedule on every read.
    private func arm() {
        guard let context, let deadline = deadlines?.deadline else { return }
        if let timerDeadline, timerDeadline <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            self?.timerFired()
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
    }

    private func timerFired() {
        timer = nil
        timerDeadline = nil
        guard let context, let action = deadlines?.deadlineReached(now: .now()) else { return }
        switch action {
        case .none:
            arm()
        case .close:
            context.close(promise: nil)
        case .answerTimeoutAndClose(let limit):
            let error: ProxyError =
                switch limit {
                case .head: .requestTimeout("a complete request head", limit: limit.rawValue)
                case .body: .requestTimeout("the request body", limit: limit.rawValue)
                }
            answer(error, context: context)
            if limit == .body { context.fireErrorCaught(BodyTimeout()) }
        }
    }

    // MARK: Answers

    /// Writes `error` as a complete response that closes the connection, then closes it.
    private func answer(_ error: ProxyError, context: ChannelHandlerContext) {
        let body = ByteBuffer(bytes: error.jsonData(requestID: nil))
        var fields = error.headers
        fields[.contentType] = "application/json"
        fields[.contentLength] = String(body.readableBytes)
        fields[.connection] = "close"
        context.write(wrapOutboundOut(.head(HTTPResponse(status: error.status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// Sits at the front of a connection's pipeline and tells the ``EdgeLimitsHandler`` when
/// bytes arrive, so that a request head that has begun but not ended is timed from its first
/// byte.
final class RequestBytesObserver: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let limits: EdgeLimitsHandler

    init(limits: EdgeLimitsHandler) { self.limits = limits }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        limits.bytesReceived()
        context.fireChannelRead(data)
    }
}

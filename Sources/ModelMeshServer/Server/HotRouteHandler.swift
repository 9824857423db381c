import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTPTypes

/// Answers the ``HotRoutes`` on one client connection from inside its channel pipeline and
/// passes every other request on to Hummingbird, keeping HTTP/1.1's order of answers.
///
/// It sits after Hummingbird's connection-state handler (which still sees every request and
/// answer, so graceful shutdown waits for hot requests too) and before the async channel
/// Hummingbird reads requests from. A hot request's body is collected here, up to
/// `proxy.body_limit`; the request is then answered in a task on the connection's event
/// loop and the answer written from this handler.
///
/// Order: a pipelined request waits (with reads paused) until every answer before it ended,
/// whichever side answers it.
final class HotRouteHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The hot request of the moment.
    private enum Current {
        case none
        /// Its body is arriving; it is answered once the body ends.
        case reading(head: HTTPRequest, body: ByteBuffer?)
        /// Handed to the responder before its body ended (too large): the rest is dropped.
        case answering(bodyEnded: Bool, answerEnded: Bool)
    }

    private let routes: HotRoutes
    private let executor: EventLoopTaskExecutor
    private var context: ChannelHandlerContext?
    private var current = Current.none
    /// Requests passed on to Hummingbird whose answers have not ended.
    private var passedOnAnswers = 0
    /// The parts being read belong to a request passed on.
    private var passingOn = false
    /// Parts that must wait for an answer before them to end.
    private var waiting = CircularBuffer<HTTPRequestPart>()
    /// A read was asked for while parts were waiting.
    private var readHeld = false
    private var closed = false
    /// An error that reached this handler while a hot answer was being written.
    private var heldError: (any Error)?
    /// A close asked for while a hot answer was being written.
    private var closeHeld = false
    private var heldClosePromises: [EventLoopPromise<Void>] = []
    /// Continuations waiting for the channel to become writable.
    private var writabilityWaiters: [CheckedContinuation<Void, any Error>] = []
    /// The task of the latest hot answer (finished or not): what a shutdown past its deadline
    /// cancels.
    private var answerTask: Task<Void, Never>?

    init(routes: HotRoutes, eventLoop: any EventLoop) {
        self.routes = routes
        self.executor = EventLoopTaskExecutor(eventLoop)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        routes.tasks.register(NIOLoopBound(self, eventLoop: context.eventLoop))
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        routes.tasks.deregister(self)
        failWritabilityWaiters()
    }

    /// The server's run was cancelled (see ``HotRouteTasks``).
    func cancelAnswer() {
        answerTask?.cancel()
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if closed { return }
        if !waiting.isEmpty || !process(part, context: context) {
            waiting.append(part)
        }
    }

    /// Handles one part; false when it has to wait for an earlier answer to end.
    private func process(_ part: HTTPRequestPart, context: ChannelHandlerContext) -> Bool {
        switch part {
        case .head(let head):
            guard case .none = current else { return false }
            guard HotRoutes.isHot(head) else {
                passedOnAnswers += 1
                passingOn = true
                context.fireChannelRead(wrapInboundOut(part))
                return true
            }
            guard passedOnAnswers == 0 else { return false }
            if let declared = head.headerFields[.contentLength].flatMap({ Int($0) }), declared > routes.bodyLimit {
                // Refused from its Content-Length alone, as the route handler does, without
                // waiting for a body that is not going to be read.
                current = .answering(bodyEnded: false, answerEnded: false)
                answer(head, body: ByteBuffer(), context: context)
            } else {
                current = .reading(head: head, body: nil)
            }
        case .body(let buffer):
            if passingOn {
                context.fireChannelRead(wrapInboundOut(part))
                return true
            }
            guard case .reading(let head, var body) = current else { return true }
            current = .none  // lets `body` be appended to without a copy
            if body == nil {
                body = buffer
            } else {
                var incoming = buffer
                body!.writeBuffer(&incoming)
            }
            if body!.readableBytes > routes.bodyLimit {
                // Over the limit: the handler sees one byte too many and answers 413.
                current = .answering(bodyEnded: false, answerEnded: false)
                answer(head, body: body!.getSlice(at: body!.readerIndex, length: routes.bodyLimit + 1)!, context: context)
            } else {
                current = .reading(head: head, body: body)
            }
        case .end:
            if passingOn {
                passingOn = false
                context.fireChannelRead(wrapInboundOut(part))
                return true
            }
            switch current {
            case .reading(let head, let body):
                current = .answering(bodyEnded: true, answerEnded: false)
                answer(head, body: body ?? ByteBuffer(), context: context)
            case .answering(_, let answerEnded):
                current = answerEnded ? .none : .answering(bodyEnded: true, answerEnded: false)
            case .none:
                break
            }
        }
        return true
    }

    /// Processes waiting parts until one has to wait again; reads resume once none wait.
    private func drain(context: ChannelHandlerContext) {
        var passed = false
        defer {
            // Hummingbird's async channel hands parts over at the end of a read.
            if passed { context.fireChannelReadComplete() }
        }
        while let part = waiting.first, !closed {
            let passingOnBefore = passingOn
            guard process(part, context: context) else { return }
            waiting.removeFirst()
            passed = passed || passingOn || passingOnBefore
        }
        if readHeld, waiting.isEmpty {
            readHeld = false
            context.read()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch current {
        case .reading:
            // A body timeout or a parse error in the body: the handlers before this one answer
            // and close; this request is not answered here.
            closed = true
        case .answering(_, answerEnded: false):
            // Bad bytes after a hot request: Hummingbird answers 400 and closes, which must
            // not cut into the answer on its way.
            heldError = error
            return
        case .answering, .none:
            break
        }
        context.fireErrorCaught(error)
    }

    /// Whether a hot request's answer is being written.
    private var answerInFlight: Bool {
        if case .answering(_, answerEnded: false) = current { return true }
        return false
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // Hummingbird closes a connection (or its output) when its own task ends: the client's
        // input ended, or the server was cancelled at its shutdown deadline. A hot answer still
        // being written ends first, then the connection closes.
        if mode != .input, answerInFlight {
            closeHeld = true
            if let promise { heldClosePromises.append(promise) }
            return
        }
        context.close(mode: mode, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        waiting.removeAll()
        failWritabilityWaiters()
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            let waiters = writabilityWaiters
            writabilityWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        if waiting.isEmpty {
            context.read()
        } else {
            readHeld = true
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Only Hummingbird's writes come through here: this handler writes from its own context.
        context.write(data, promise: promise)
        // (Hummingbird also answers a request it could not parse; that one was never passed on.)
        if case .end = unwrapOutboundIn(data), passedOnAnswers > 0 {
            passedOnAnswers -= 1
            if passedOnAnswers == 0 { drain(context: context) }
        }
    }

    // MARK: Answering

    private func answer(_ head: HTTPRequest, body: ByteBuffer, context: ChannelHandlerContext) {
        let routes = routes
        let channel = context.channel
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let closeAfter = head.headerFields[.connection]?.lowercased() == "close"
        let tasks = routes.tasks
        tasks.started()
        let task = Task(executorPreference: executor) {
            defer { tasks.ended() }
            let response = await routes.respond(to: head, body: body, channel: channel)
            let writer = HotRouteWriter(handler: handler, streaming: response.body.contentLength == nil)
            do {
                try await writer.writeHead(response.head)
                try await response.body.write(writer)
            } catch {
                // The client went away mid-answer (the relay has cancelled its upstream):
                // nothing is left to tell it.
                writer.ended(abandoned: true)
                return
            }
            writer.ended(abandoned: closeAfter)
        }
        answerTask = task
        if routes.tasks.isCancelled { task.cancel() }
    }

    // Called by ``HotRouteWriter`` on the event loop.

    fileprivate func writePart(_ part: HTTPResponsePart, flush: Bool) throws {
        guard let context, !closed else { throw ChannelError.ioOnClosedChannel }
        if flush {
            context.writeAndFlush(wrapOutboundOut(part), promise: nil)
        } else {
            context.write(wrapOutboundOut(part), promise: nil)
        }
    }

    fileprivate var isWritable: Bool { context?.channel.isWritable ?? false }

    fileprivate func waitUntilWritable(_ continuation: CheckedContinuation<Void, any Error>) {
        if closed || context == nil {
            continuation.resume(throwing: ChannelError.ioOnClosedChannel)
        } else if context!.channel.isWritable {
            continuation.resume()
        } else {
            writabilityWaiters.append(continuation)
        }
    }

    private func failWritabilityWaiters() {
        let waiters = writabilityWaiters
        writabilityWaiters.removeAll()
        for waiter in waiters { waiter.resume(throwing: ChannelError.ioOnClosedChannel) }
    }

    /// The answer's end was written.
    fileprivate func answerEnded(closeAfter: Bool) {
        guard let context else { return }
        switch current {
        case .answering(let bodyEnded, _):
            current = bodyEnded ? .none : .answering(bodyEnded: false, answerEnded: true)
        case .none, .reading:
            break
        }
        if closeAfter || closeHeld {
            closed = true
            let promises = heldClosePromises
            heldClosePromises.removeAll()
            context.close(promise: nil)
            for promise in promises { context.channel.closeFuture.cascade(to: promise) }
            return
        }
        if let error = heldError {
            heldError = nil
            context.fireErrorCaught(error)
        }
        drain(context: context)
    }
}

@available(*, unavailable)
extension HotRouteHandler: Sendable {}

/// Writes one hot-route answer through its ``HotRouteHandler``, from a task on the
/// connection's event loop. A complete body is written with one flush at the end; a
/// streamed one (server-sent events) is flushed chunk by chunk and waits while the client
/// is not reading.
private struct HotRouteWriter: ResponseBodyWriter {
    let handler: NIOLoopBound<HotRouteHandler>
    let streaming: Bool

    /// Runs `body` with the handler on its event loop (the task normally is on it already).
    private func withHandler<T: Sendable>(_ body: @escaping @Sendable (HotRouteHandler) throws -> T) async throws -> T {
        let loop = handler.eventLoop
        if loop.inEventLoop { return try body(handler.value) }
        let handler = handler
        return try await loop.submit { try body(handler.value) }.get()
    }

    func writeHead(_ head: HTTPResponse) async throws {
        let streaming = streaming
        try await withHandler { try $0.writePart(.head(head), flush: streaming) }
    }

    mutating func write(_ buffer: ByteBuffer) async throws {
        let streaming = streaming
        let writable = try await withHandler { handler -> Bool in
            try handler.writePart(.body(buffer), flush: streaming)
            return handler.isWritable
        }
        if !writable {
            let handler = handler
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                handler.eventLoop.execute { handler.value.waitUntilWritable(continuation) }
            }
        }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        try await withHandler { try $0.writePart(.end(trailingHeaders), flush: true) }
    }

    /// The answer ended; `abandoned`: close the connection (it failed, or the client asked).
    func ended(abandoned: Bool) {
        let handler = handler
        if handler.eventLoop.inEventLoop {
            handler.value.answerEnded(closeAfter: abandoned)
        } else {
            handler.eventLoop.execute { handler.value.answerEnded(closeAfter: abandoned) }
        }
    }
}

import NIOCore
import NIOHTTP1

/// Serves one connection: answers each request from ``CannedResponses``.
///
/// Runs entirely on the connection's event loop. `HTTPServerPipelineHandler` in front of it
/// holds back a pipelined request until the previous response (a stream included) has ended.
final class CompletionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let canned: CannedResponses
    private let interval: TimeAmount
    private let heldInterval: TimeAmount
    private var head: HTTPRequestHead?
    /// The request body, reused across requests on this connection.
    private var body: ByteBuffer
    /// Chunks of the stream in progress not yet sent; cancelled if the client goes away.
    private var pendingChunks: [Scheduled<Void>] = []

    init(canned: CannedResponses, interval: TimeAmount, heldInterval: TimeAmount, allocator: ByteBufferAllocator) {
        self.canned = canned
        self.interval = interval
        self.heldInterval = heldInterval
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
            guard let requestHead = head else { return }
            head = nil
            respond(to: requestHead, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        for task in pendingChunks { task.cancel() }
        pendingChunks.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset by the client lands here; the connection is finished either way.
        context.close(promise: nil)
    }

    private func respond(to requestHead: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = requestHead.uri.split(separator: "?", maxSplits: 1).first ?? ""
        switch (requestHead.method, path) {
        case (.POST, "/v1/chat/completions"):
            if Self.isTrue("stream", in: body) {
                if Self.isTrue("bench_hold", in: body) {
                    stream(requestHead, chunks: canned.heldChunks, interval: heldInterval, context: context)
                } else {
                    stream(requestHead, chunks: canned.chunks, interval: interval, context: context)
                }
            } else {
                send(canned.completion, for: requestHead, context: context)
            }
        case (.GET, "/v1/models"):
            send(canned.models, for: requestHead, context: context)
        default:
            send(canned.notFound, for: requestHead, context: context)
        }
    }

    private func send(_ answer: CannedResponses.Fixed, for requestHead: HTTPRequestHead, context: ChannelHandlerContext)
    {
        let keepAlive = requestHead.isKeepAlive
        let responseHead = HTTPResponseHead(
            version: requestHead.version, status: answer.status,
            headers: Self.headers(answer.headers, version: requestHead.version, keepAlive: keepAlive))
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(answer.body))), promise: nil)
        finish(keepAlive: keepAlive, context: context)
    }

    private func stream(
        _ requestHead: HTTPRequestHead, chunks: [ByteBuffer], interval: TimeAmount, context: ChannelHandlerContext
    ) {
        let keepAlive = requestHead.isKeepAlive
        let responseHead = HTTPResponseHead(
            version: requestHead.version, status: .ok,
            headers: Self.headers(canned.streamHeaders, version: requestHead.version, keepAlive: keepAlive))
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(chunks[0]))), promise: nil)

        let loop = context.eventLoop.assumeIsolated()
        let start = NIODeadline.now()
        let last = chunks.count - 1
        // Deadlines from one start time, so a late chunk does not delay the ones after it.
        for index in chunks.indices.dropFirst() {
            let deadline = start + interval * Int64(index)
            pendingChunks.append(
                loop.scheduleTask(deadline: deadline) { [self] in
                    guard context.channel.isActive else { return }
                    context.write(wrapOutboundOut(.body(.byteBuffer(chunks[index]))), promise: nil)
                    if index == last {
                        pendingChunks.removeAll(keepingCapacity: true)
                        context.write(wrapOutboundOut(.body(.byteBuffer(canned.done))), promise: nil)
                        finish(keepAlive: keepAlive, context: context)
                    } else {
                        context.flush()
                    }
                })
        }
        if last == 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(canned.done))), promise: nil)
            finish(keepAlive: keepAlive, context: context)
        }
    }

    private func finish(keepAlive: Bool, context: ChannelHandlerContext) {
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let done = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
            done.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    private static func headers(_ base: HTTPHeaders, version: HTTPVersion, keepAlive: Bool) -> HTTPHeaders {
        // The common case (HTTP/1.1 keep-alive) sends the canned headers untouched.
        if keepAlive && version.minor >= 1 { return base }
        var headers = base
        headers.replaceOrAdd(name: "connection", value: keepAlive ? "keep-alive" : "close")
        return headers
    }

    /// Whether a JSON body has `"<name>": true` (at any depth; the benchmark sends flat bodies).
    static func isTrue(_ name: String, in body: ByteBuffer) -> Bool {
        let bytes = body.readableBytesView
        let key = Array("\"\(name)\"".utf8)
        var start = bytes.startIndex
        while start + key.count <= bytes.endIndex {
            guard let quote = bytes[start...].firstIndex(of: UInt8(ascii: "\"")) else { return false }
            guard quote + key.count <= bytes.endIndex else { return false }
            if bytes[quote..<(quote + key.count)].elementsEqual(key) {
                var cursor = quote + key.count
                while cursor < bytes.endIndex, bytes[cursor] == UInt8(ascii: " ") { cursor += 1 }
                guard cursor < bytes.endIndex, bytes[cursor] == UInt8(ascii: ":") else {
                    start = quote + 1
                    continue
                }
                cursor += 1
                while cursor < bytes.endIndex, bytes[cursor] == UInt8(ascii: " ") { cursor += 1 }
                return cursor < bytes.endIndex && bytes[cursor] == UInt8(ascii: "t")
            }
            start = quote + 1
        }
        return false
    }
}

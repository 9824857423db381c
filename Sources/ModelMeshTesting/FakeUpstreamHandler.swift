import Foundation
import NIOCore
import NIOHTTP1

/// Serves one connection of a ``FakeUpstream``: records each request and plays its script.
///
/// Everything runs on the connection's event loop; delays are scheduled tasks that are
/// cancelled when the connection closes.
final class FakeUpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let core: FakeUpstreamCore
    private let connectionID: Int
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    /// A response was scripted and is not completely sent.
    private var responding = false
    private var scheduled: [Scheduled<Void>] = []

    init(core: FakeUpstreamCore, connectionID: Int) {
        self.core = core
        self.connectionID = connectionID
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.removeAll(keepingCapacity: true)
        case .body(let buffer):
            body.append(contentsOf: buffer.readableBytesView)
        case .end:
            guard let head else { return }
            self.head = nil
            let request = RecordedRequest(
                time: Date(), method: head.method.rawValue, uri: head.uri,
                headers: head.headers.map { ($0.name, $0.value) }, body: body, connectionID: connectionID)
            respond(with: core.receive(request), context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        for task in scheduled { task.cancel() }
        scheduled.removeAll()
        core.connectionClosed(connectionID, abortedResponse: responding)
        responding = false
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset by the client lands here; the connection is done either way.
        context.close(promise: nil)
    }

    private func respond(with response: FakeResponse, context: ChannelHandlerContext) {
        responding = true
        switch response.body {
        case .resetConnection:
            responding = false
            context.close(promise: nil)
        case .silence:
            break
        case .bytes, .stream:
            after(response.headDelay, context: context) { [self] in
                writeHead(response, context: context)
            }
        }
    }

    private func writeHead(_ response: FakeResponse, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(response.headers.map { ($0.name, $0.value) })
        let status = HTTPResponseStatus(statusCode: response.status)
        switch response.body {
        case .bytes(let bytes):
            headers.replaceOrAdd(name: "content-length", value: String(bytes.count))
            context.write(
                wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
                promise: nil)
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: nil)
            finish(context: context)
        case .stream(let events, let ending):
            headers.remove(name: "content-length")
            headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
            context.writeAndFlush(
                wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
                promise: nil)
            send(events[...], ending: ending, context: context)
        case .resetConnection, .silence:
            break
        }
    }

    private func send(_ events: ArraySlice<FakeStreamEvent>, ending: FakeStreamEnding, context: ChannelHandlerContext) {
        guard let event = events.first else {
            end(ending, context: context)
            return
        }
        after(event.delay, context: context) { [self] in
            guard context.channel.isActive else { return }
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenSuccess { [core] in core.eventWritten() }
            context.writeAndFlush(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: event.bytes)))),
                promise: written)
            send(events.dropFirst(), ending: ending, context: context)
        }
    }

    private func end(_ ending: FakeStreamEnding, context: ChannelHandlerContext) {
        switch ending {
        case .done:
            let done = FakeStreamEvent.done.bytes
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: done)))), promise: nil)
            finish(context: context)
        case .finish:
            finish(context: context)
        case .cut:
            // Closing without the terminating chunk: the client sees a body cut short. The
            // close waits a moment because AsyncHTTPClient drops body bytes it has received
            // but not yet handed on when the connection closes, which would make the amount
            // of delivered output depend on scheduling.
            responding = false
            context.flush()
            after(.milliseconds(200), context: context) {
                context.close(promise: nil)
            }
        case .stall:
            break
        }
    }

    private func finish(context: ChannelHandlerContext) {
        responding = false
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    private func after(_ delay: Duration, context: ChannelHandlerContext, _ work: @escaping () -> Void) {
        if delay <= .zero {
            work()
            return
        }
        let (seconds, attoseconds) = delay.components
        let amount = TimeAmount.nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        scheduled.append(context.eventLoop.assumeIsolated().scheduleTask(in: amount) { work() })
    }
}

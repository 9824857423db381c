import NIOCore
import NIOHTTP1

/// Collects a whole response for ``HTTPTransport/send(_:budget:)``: the head and the body,
/// at most `limit` bytes of a 2xx body (more fails the request) and the first `errorLimit`
/// bytes of any other (the rest is dropped; an error page can be huge).
///
/// Its callbacks all come from the call's event loop, one at a time.
final class ResponseCollector: UpstreamResponseReceiver, @unchecked Sendable {
    struct Response {
        var head: HTTPResponseHead
        var body: ByteBuffer
    }

    /// A 2xx body was larger than allowed.
    struct TooLarge: Error {}

    private let limit: Int
    private let errorLimit: Int
    private let promise: EventLoopPromise<Response>
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()

    init(limit: Int, errorLimit: Int, promise: EventLoopPromise<Response>) {
        self.limit = limit
        self.errorLimit = errorLimit
        self.promise = promise
    }

    private var isSuccess: Bool { head.map { (200..<300).contains($0.status.code) } ?? true }

    func receiveHead(_ head: HTTPResponseHead, of call: UpstreamCall) {
        self.head = head
        let announced = head.headers.first(name: "content-length").flatMap { Int($0) }
        if isSuccess, let announced, announced > limit { call.cancel(with: TooLarge()) }
    }

    func receiveBodyPart(_ buffer: ByteBuffer, of call: UpstreamCall) {
        var buffer = buffer
        if isSuccess {
            guard body.readableBytes + buffer.readableBytes <= limit else {
                call.cancel(with: TooLarge())
                return
            }
            body.writeBuffer(&buffer)
        } else {
            let room = errorLimit - body.readableBytes
            if room > 0, let slice = buffer.readSlice(length: min(room, buffer.readableBytes)) {
                body.writeImmutableBuffer(slice)
            }
        }
    }

    func receiveEnd(of call: UpstreamCall) {
        guard let head else {
            promise.fail(UpstreamCallError.closedBeforeResponse)
            return
        }
        promise.succeed(Response(head: head, body: body))
    }

    func receiveFailure(_ error: any Error, of call: UpstreamCall) {
        promise.fail(error)
    }
}

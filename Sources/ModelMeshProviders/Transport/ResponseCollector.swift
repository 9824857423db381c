import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import Synchronization

/// Collects a whole response for ``HTTPTransport/send(_:budget:)``: the head and the body,
/// at most `limit` bytes of a 2xx body (more fails the request) and the first `errorLimit`
/// bytes of any other (the rest is dropped; an error page can be huge).
///
/// A delegate rather than the async `execute`: that one starts a task on the global executor
/// for every request, which wakes a second thread per call.
final class ResponseCollector: HTTPClientResponseDelegate {
    struct Response {
        var head: HTTPResponseHead
        var body: ByteBuffer
    }

    /// A 2xx body was larger than allowed.
    struct TooLarge: Error {}

    private struct State {
        var head: HTTPResponseHead?
        var body = ByteBuffer()
    }

    private let limit: Int
    private let errorLimit: Int
    // Callbacks arrive one at a time on the task's event loop; the lock is never contended.
    private let state = Mutex(State())

    init(limit: Int, errorLimit: Int) {
        self.limit = limit
        self.errorLimit = errorLimit
    }

    func didReceiveHead(task: HTTPClient.Task<Response>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        let announced = head.headers.first(name: "content-length").flatMap { Int($0) }
        if (200..<300).contains(head.status.code), let announced, announced > limit {
            return task.eventLoop.makeFailedFuture(TooLarge())
        }
        state.withLock { $0.head = head }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Response>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        let tooLarge = state.withLock { state -> Bool in
            let success = state.head.map { (200..<300).contains($0.status.code) } ?? true
            var buffer = buffer
            if success {
                if state.body.readableBytes + buffer.readableBytes > limit { return true }
                state.body.writeBuffer(&buffer)
            } else {
                let room = errorLimit - state.body.readableBytes
                if room > 0, let slice = buffer.readSlice(length: min(room, buffer.readableBytes)) {
                    state.body.writeImmutableBuffer(slice)
                }
            }
            return false
        }
        return tooLarge ? task.eventLoop.makeFailedFuture(TooLarge()) : task.eventLoop.makeSucceededVoidFuture()
    }

    func didFinishRequest(task: HTTPClient.Task<Response>) throws -> Response {
        try state.withLock { state in
            guard let head = state.head else { throw HTTPClientError.remoteConnectionClosed }
            return Response(head: head, body: state.body)
        }
    }
}

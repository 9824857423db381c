import AsyncHTTPClient
import Hummingbird
import NIOCore
import NIOHTTP1

/// A request context that keeps the connection's event loop.
struct LoopContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let eventLoop: any EventLoop

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        eventLoop = source.channel.eventLoop
    }
}

/// Hummingbird's side of the pass-through: one responder for every method and path.
///
/// The forwarding runs with the connection's event loop as its task executor, so the upstream
/// call starts on the thread that owns the connection instead of a Swift concurrency thread.
struct ForwardingResponder: HTTPResponder {
    enum Client: Sendable {
        case pool(NIOUpstream)
        /// AsyncHTTPClient's async API; `base` is `http://host:port`.
        case ahc(HTTPClient, base: String)
    }

    let client: Client

    func respond(to request: Request, context: LoopContext) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: .max)
        var headers = HTTPHeaders()
        for field in request.headers { headers.add(name: field.name.rawName, value: field.value) }
        headers = headers.endToEnd()
        let method = HTTPMethod(rawValue: request.method.rawValue)
        let uri = request.uri.description
        let loop = context.eventLoop
        do {
            return try await withTaskExecutorPreference(LoopExecutor(loop)) {
                switch client {
                case .pool(let upstream):
                    headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes))
                    let head = HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)
                    return try await Self.forward(head, body: body, through: upstream, on: loop)
                case .ahc(let client, let base):
                    var outbound = HTTPClientRequest(url: base + uri)
                    outbound.method = method
                    outbound.headers = headers
                    outbound.body = .bytes(body)
                    let answer = try await client.execute(outbound, timeout: .seconds(60))
                    return Response(
                        status: .init(code: Int(answer.status.code)), headers: HTTPFields(answer.headers.endToEnd()),
                        body: ResponseBody(asyncSequence: answer.body))
                }
            }
        } catch {
            return Response(status: .badGateway)
        }
    }

    /// Sends the request through the event loop's connection pool; the answer's body streams
    /// through an `AsyncThrowingStream` as the upstream delivers it.
    private static func forward(
        _ head: HTTPRequestHead, body: ByteBuffer, through upstream: NIOUpstream, on loop: any EventLoop
    ) async throws -> Response {
        let (chunks, continuation) = AsyncThrowingStream.makeStream(of: ByteBuffer.self)
        let answer: HTTPResponseHead = try await withCheckedThrowingContinuation { started in
            loop.execute {
                var waiting: CheckedContinuation<HTTPResponseHead, any Error>? = started
                upstream.forward(head, body: body, on: loop) { event in
                    switch event {
                    case .head(let response):
                        waiting?.resume(returning: response)
                        waiting = nil
                    case .body(let part): continuation.yield(part)
                    case .flush: break
                    case .end: continuation.finish()
                    case .failed(let error):
                        waiting?.resume(throwing: error)
                        waiting = nil
                        continuation.finish(throwing: error)
                    }
                }
            }
        }
        return Response(
            status: .init(code: Int(answer.status.code)), headers: HTTPFields(answer.headers.endToEnd()),
            body: ResponseBody(asyncSequence: chunks))
    }
}

/// Runs a task's jobs on one event loop.
final class LoopExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

extension HTTPFields {
    /// Hummingbird's fields from SwiftNIO's headers (names HTTP does not allow are dropped).
    init(_ headers: HTTPHeaders) {
        self.init()
        reserveCapacity(headers.count)
        for (name, value) in headers {
            if let name = Element.Name(name) { append(Element(name: name, value: value)) }
        }
    }
}

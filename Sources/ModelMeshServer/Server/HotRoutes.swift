import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// The routes on the proxy's hot path — `POST /v1/chat/completions` and `POST /v1/embeddings`
/// — answered straight from the connection's channel pipeline by a ``HotRouteHandler``.
///
/// Hummingbird serves everything else. For these two routes its per-connection machinery
/// (an async channel with its own buffering, a request body stream, a response writer
/// awaited part by part) cost more CPU per request than the routing itself. The handler
/// skips that machinery, not the application: it calls the same responder, so the same
/// middleware (request ids, metrics, CORS, errors, auth, rate limits) and the same route
/// handlers answer, and a request behaves the same whichever way it came in.
struct HotRoutes: Sendable {
    /// The application's responder: the router with every middleware.
    let responder: RouterResponder<ProxyRequestContext>
    let logger: Logger
    /// The `Server` header of every answer, as Hummingbird sets it for the other routes.
    let serverName: String?
    /// `proxy.body_limit`: the most of a request body held in memory.
    let bodyLimit: Int
    /// The requests being answered, so that a shutdown can cancel them.
    let tasks: HotRouteTasks

    /// Whether the request is one of the hot routes.
    static func isHot(_ head: HTTPRequest) -> Bool {
        guard head.method == .post, let path = head.path else { return false }
        let end = path.utf8.firstIndex(of: UInt8(ascii: "?")) ?? path.endIndex
        let route = path[..<end]
        return route == "/v1/chat/completions" || route == "/v1/embeddings"
    }

    /// The answer to a complete request, with the headers Hummingbird's server adds.
    func respond(to head: HTTPRequest, body: ByteBuffer, channel: any Channel) async -> Response {
        let request = Request(head: head, body: RequestBody(buffer: body))
        let context = ProxyRequestContext(source: ApplicationRequestContextSource(channel: channel, logger: logger))
        var response: Response
        do {
            response = try await responder.respond(to: request, context: context)
        } catch {
            // The error middleware renders every error; this is the server's last resort.
            logger.debug("Unrecognised error", metadata: ["error.type": "\(error)"])
            response = Response(status: .internalServerError, body: .init())
        }
        response.headers[.date] = HTTPDate.now
        if let serverName { response.headers[.server] = serverName }
        return response
    }
}

/// The hot-route requests in flight on one server: like Hummingbird's connection tasks, they
/// are cancelled when the server's run is cancelled (the graceful-shutdown deadline passed).
///
/// A connection answers one hot request at a time and its ``HotRouteHandler`` holds that
/// request's task, so what is listed here is the connections, each once: a request starts
/// without taking a lock shared with the other event loops.
final class HotRouteTasks: Sendable {
    private let handlers = Mutex<[ObjectIdentifier: NIOLoopBound<HotRouteHandler>]>([:])
    private let cancelled = Atomic(false)
    private let inFlight = Atomic(0)

    /// Lists a connection's handler (when it is added to the pipeline).
    func register(_ handler: NIOLoopBound<HotRouteHandler>) {
        handlers.withLock { $0[ObjectIdentifier(handler.value)] = handler }
    }

    /// Takes a connection's handler off the list (when it is removed from the pipeline).
    func deregister(_ handler: HotRouteHandler) {
        _ = handlers.withLock { $0.removeValue(forKey: ObjectIdentifier(handler)) }
    }

    /// Whether ``cancelAll()`` was called: a request started from now on is cancelled at once.
    var isCancelled: Bool { cancelled.load(ordering: .acquiring) }

    /// A hot answer started (``ended()`` follows when its task ends).
    func started() { inFlight.wrappingAdd(1, ordering: .relaxed) }

    /// A hot answer's task ended.
    func ended() { inFlight.wrappingSubtract(1, ordering: .relaxed) }

    /// How many hot answers are in flight.
    var count: Int { inFlight.load(ordering: .relaxed) }

    /// Cancels every request in flight and every one started from now on.
    func cancelAll() {
        cancelled.store(true, ordering: .releasing)
        let registered = handlers.withLock { Array($0.values) }
        for handler in registered {
            handler.eventLoop.execute { handler.value.cancelAnswer() }
        }
    }
}

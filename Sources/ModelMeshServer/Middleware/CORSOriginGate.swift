import Hummingbird

/// Removes the `Origin` header of requests from origins not on the allow-list, so the
/// CORS middleware after it adds no CORS headers for them and browsers block the call.
///
/// Hummingbird's `CORSMiddleware` takes its list of origins only as variadic arguments;
/// this gate plus `.originBased` gives the same result for a list read from configuration.
struct CORSOriginGate: RouterMiddleware {
    typealias Context = ProxyRequestContext

    let allowed: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard let origin = request.headers[.origin], !allowed.contains(origin) else {
            return try await next(request, context)
        }
        var head = request.head
        head.headerFields[.origin] = nil
        return try await next(Request(head: head, body: request.body), context)
    }
}

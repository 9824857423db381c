import Hummingbird

/// Refuses requests over the local rate limit with 429 and `Retry-After`.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = ProxyRequestContext

    let limiter: TokenBucketLimiter
    /// Probes that are never limited.
    let exemptPaths: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard !exemptPaths.contains(request.uri.path), request.method != .options else {
            return try await next(request, context)
        }
        switch limiter.acquire(key: context.clientAddress ?? "global") {
        case .allowed: return try await next(request, context)
        case .limited(let seconds): throw ProxyError.rateLimited(retryAfterSeconds: seconds)
        }
    }
}

import Hummingbird
import ModelMesh

/// Requires `Authorization: Bearer <token>` with one of the configured tokens.
///
/// Every configured token is compared in full, in constant time, so neither the position
/// of a mismatch nor which token matched leaks through timing. Paths in `openPaths`
/// (liveness and readiness probes) need no token.
struct BearerAuthMiddleware: RouterMiddleware {
    typealias Context = ProxyRequestContext

    private let tokens: [[UInt8]]
    private let openPaths: Set<String>

    init(tokens: [Secret], openPaths: Set<String>) {
        self.tokens = tokens.map { Array($0.value.utf8) }
        self.openPaths = openPaths
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        if openPaths.contains(request.uri.path) || request.method == .options {
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization], let presented = Self.bearerToken(header),
            accepts(presented)
        else {
            throw ProxyError.unauthorized()
        }
        return try await next(request, context)
    }

    static func bearerToken(_ header: String) -> Substring.UTF8View? {
        let scheme = "bearer "
        guard header.utf8.count > scheme.utf8.count,
            header.prefix(scheme.count).lowercased() == scheme
        else { return nil }
        return header.dropFirst(scheme.count).utf8
    }

    func accepts(_ presented: Substring.UTF8View) -> Bool {
        let candidate = Array(presented)
        var matched = false
        for token in tokens {
            // No early exit: every token is compared whatever the outcome.
            matched = Self.constantTimeEquals(candidate, token) || matched
        }
        return matched
    }

    /// Compares two byte strings in time that depends only on their lengths.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference: UInt8 = a.count == b.count ? 0 : 1
        let length = max(a.count, b.count)
        for i in 0..<length {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}

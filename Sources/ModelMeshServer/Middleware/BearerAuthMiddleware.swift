import Hummingbird
import ModelMesh

/// Requires `Authorization: Bearer <token>` with one of the configured tokens, and an admin
/// token on the operator endpoints (a client token gets 403 there, no token 401).
///
/// Every configured token is compared in full, in constant time, so neither the position
/// of a mismatch nor which token matched leaks through timing. Paths in `openPaths`
/// (liveness and readiness probes) need no token.
struct BearerAuthMiddleware: RouterMiddleware {
    typealias Context = ProxyRequestContext

    private let tokens: [[UInt8]]
    private let adminTokens: [[UInt8]]
    private let openPaths: Set<String>

    init(tokens: [Secret], adminTokens: [Secret] = [], openPaths: Set<String>) {
        self.tokens = tokens.map { Array($0.value.utf8) }
        self.adminTokens = adminTokens.map { Array($0.value.utf8) }
        self.openPaths = openPaths
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        if openPaths.contains(request.uri.path) || request.method == .options {
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization], let presented = Self.bearerToken(header) else {
            throw ProxyError.unauthorized()
        }
        let candidate = Array(presented)
        let isAdmin = Self.matches(candidate, adminTokens)
        if Self.isOperatorRequest(request) {
            if isAdmin { return try await next(request, context) }
            guard Self.matches(candidate, tokens) else { throw ProxyError.unauthorized() }
            throw ProxyError.forbidden(hasAdminTokens: !adminTokens.isEmpty)
        }
        guard isAdmin || Self.matches(candidate, tokens) else { throw ProxyError.unauthorized() }
        return try await next(request, context)
    }

    /// Whether the request changes the mesh: a model's or a provider's state, or a reload.
    static func isOperatorRequest(_ request: Request) -> Bool {
        guard request.method == .post else { return false }
        let path = request.uri.path
        if path == "/v1/mesh/reload" { return true }
        guard path.hasPrefix("/v1/mesh/models/") || path.hasPrefix("/v1/mesh/providers/") else { return false }
        return path.hasSuffix("/activate") || path.hasSuffix("/deactivate")
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
        return Self.matches(candidate, tokens) || Self.matches(candidate, adminTokens)
    }

    static func matches(_ candidate: [UInt8], _ tokens: [[UInt8]]) -> Bool {
        var matched = false
        for token in tokens {
            // No early exit: every token is compared whatever the outcome.
            matched = constantTimeEquals(candidate, token) || matched
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

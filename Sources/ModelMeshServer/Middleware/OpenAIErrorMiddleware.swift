import HTTPTypes
import Hummingbird
import Logging
import ModelMesh

/// Renders every error thrown below it in the OpenAI shape; the one place where errors
/// become responses.
struct OpenAIErrorMiddleware: RouterMiddleware {
    typealias Context = ProxyRequestContext

    /// Methods served per path (static paths) and per prefix (catch-all paths ending `/**`),
    /// to tell "wrong method" (405) from "no such path" (404).
    private let methodsByPath: [String: [HTTPRequest.Method]]
    private let methodsByPrefix: [(prefix: String, methods: [HTTPRequest.Method])]

    init(routes: [(HTTPRequest.Method, String)]) {
        var byPath: [String: [HTTPRequest.Method]] = [:]
        var byPrefix: [String: [HTTPRequest.Method]] = [:]
        for (method, path) in routes {
            if path.hasSuffix("/**") {
                byPrefix[String(path.dropLast(2)), default: []].append(method)
            } else {
                byPath[path, default: []].append(method)
            }
        }
        methodsByPath = byPath
        methodsByPrefix = byPrefix.map { ($0.key, $0.value) }
    }

    func allowedMethods(_ path: String) -> [HTTPRequest.Method] {
        if let methods = methodsByPath[path] { return methods }
        return methodsByPrefix.first { path.hasPrefix($0.prefix) && path.count > $0.prefix.count }?.methods ?? []
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            var rendered = ProxyError(error, method: request.method, path: request.uri.path)
            if rendered.status == .notFound, rendered.code == "not_found" {
                let allowed = allowedMethods(request.uri.path)
                if !allowed.isEmpty, !allowed.contains(request.method) {
                    rendered = .methodNotAllowed(request.method, request.uri.path, allowed: allowed)
                }
            }
            let metadata: Logger.Metadata = [
                "request_id": "\(context.requestID)", "path": "\(request.uri.path)",
                "status": "\(rendered.status.code)",
            ]
            switch error {
            case is ProxyError, is ModelMeshError, is DecodingError, is HTTPError, is CancellationError:
                // A CancellationError here is a client that hung up (499) or a shutdown.
                // Expected outcomes, already described to the client (and in the request log).
                context.logger.debug(
                    "Request refused", metadata: metadata.merging(["error": "\(rendered.message)"]) { a, _ in a })
            default:
                // Unexpected: the client gets a generic message, the log gets the detail.
                context.logger.error(
                    "Request failed unexpectedly",
                    metadata: metadata.merging([
                        "error": "\(error)", "error_type": "\(String(reflecting: type(of: error)))",
                    ]) {
                        a, _ in a
                    })
            }
            return rendered.response(requestID: context.requestID)
        }
    }
}

import Hummingbird
import Logging

/// Renders every error thrown below it in the OpenAI shape; the one place where errors
/// become responses.
struct OpenAIErrorMiddleware: RouterMiddleware {
    typealias Context = ProxyRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            let rendered = ProxyError(error, method: request.method, path: request.uri.path)
            if rendered.status.code >= 500, !(error is ProxyError) {
                context.logger.error(
                    "Request failed",
                    metadata: [
                        "request_id": "\(context.requestID)", "path": "\(request.uri.path)",
                        "status": "\(rendered.status.code)", "error": "\(rendered.message)",
                        "error_type": "\(String(reflecting: type(of: error)))",
                    ])
            }
            return rendered.response(requestID: context.requestID)
        }
    }
}

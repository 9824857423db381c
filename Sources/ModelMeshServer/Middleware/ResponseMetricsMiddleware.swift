import Hummingbird
import ModelMeshProviders

/// Counts every response by endpoint and status, refusals included.
struct ResponseMetricsMiddleware: RouterMiddleware {
    typealias Context = ProxyRequestContext

    let metrics: PrometheusConnector

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let response = try await next(request, context)
        metrics.countResponse(endpoint: context.endpointPath ?? "unmatched", status: response.status.code)
        return response
    }
}

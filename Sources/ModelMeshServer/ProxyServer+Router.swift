import HTTPTypes
import Hummingbird
import ModelMesh

extension ProxyServer {
    /// Every endpoint: method, path template, and whether it can be disabled by `proxy.endpoints`.
    static let endpointTemplates: [String] = [
        "/v1/chat/completions", "/v1/embeddings", "/v1/models", "/v1/models/{id}", "/ready", "/metrics",
        "/v1/mesh/state", "/v1/mesh/explain", "/v1/mesh/models/{id}/activate", "/v1/mesh/models/{id}/deactivate",
        "/v1/mesh/providers/{id}/activate", "/v1/mesh/providers/{id}/deactivate", "/v1/mesh/events",
        "/v1/mesh/reload",
    ]

    /// Paths that need no token: liveness and readiness probes.
    static let openPaths: Set<String> = ["/health", "/ready"]

    /// Whether `template` is served: with `proxy.endpoints` set, only listed paths are (a
    /// listed prefix such as `/v1/mesh` enables everything under it). `/health` is always served.
    func serves(_ template: String) -> Bool {
        let listed = configuration.endpoints
        if listed.isEmpty || template == "/health" { return true }
        return listed.contains { entry in
            let entry = entry.hasSuffix("/") ? String(entry.dropLast()) : entry
            return template == entry || template.hasPrefix(entry + "/")
        }
    }

    typealias Handler = @Sendable (Request, ProxyRequestContext) async throws -> Response

    /// The enabled routes: method, Hummingbird path, handler.
    func routes() -> [(method: HTTPRequest.Method, path: String, handler: Handler)] {
        let h = handlers
        var routes: [(method: HTTPRequest.Method, path: String, handler: Handler)] = [
            (.get, "/health", { try await h.health($0, context: $1) })
        ]
        func add(_ method: HTTPRequest.Method, _ template: String, path: String? = nil, _ handler: @escaping Handler) {
            if serves(template) { routes.append((method, path ?? template, handler)) }
        }
        add(.get, "/ready") { try await h.ready($0, context: $1) }
        add(.get, "/metrics") { try await h.metricsText($0, context: $1) }
        add(.post, "/v1/chat/completions") { try await h.chatCompletions($0, context: $1) }
        add(.post, "/v1/embeddings") { try await h.embeddings($0, context: $1) }
        add(.get, "/v1/models") { try await h.listModels($0, context: $1) }
        // Catch-all: model ids contain dots and may contain slashes.
        add(.get, "/v1/models/{id}", path: "/v1/models/**") { try await h.model($0, context: $1) }
        add(.get, "/v1/mesh/state") { try await h.state($0, context: $1) }
        add(.post, "/v1/mesh/explain") { try await h.explain($0, context: $1) }
        let activate = serves("/v1/mesh/models/{id}/activate")
        let deactivate = serves("/v1/mesh/models/{id}/deactivate")
        if activate || deactivate {
            routes.append(
                (
                    .post, "/v1/mesh/models/**",
                    { request, context in
                        let action = context.parameters.getCatchAll().last
                        guard (action == "activate" && activate) || (action == "deactivate" && deactivate) else {
                            throw ProxyError.pathNotFound(request.method, request.uri.path)
                        }
                        return try await h.changeModelState(request, context: context)
                    }
                ))
        }
        add(.post, "/v1/mesh/providers/{id}/activate", path: "/v1/mesh/providers/:id/activate") {
            try await h.changeProviderState($0, context: $1, action: "activate")
        }
        add(.post, "/v1/mesh/providers/{id}/deactivate", path: "/v1/mesh/providers/:id/deactivate") {
            try await h.changeProviderState($0, context: $1, action: "deactivate")
        }
        add(.get, "/v1/mesh/events") { try await h.events($0, context: $1) }
        add(.post, "/v1/mesh/reload") { try await h.reload($0, context: $1) }
        return routes
    }

    /// The router with every middleware and enabled endpoint.
    public func makeRouter() -> Router<ProxyRequestContext> {
        let routes = routes()
        let router = Router(context: ProxyRequestContext.self)
        // Outermost first: the request id is on every response, then metrics see final
        // statuses, CORS headers go on errors too, and errors render in one place.
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: ResponseMetricsMiddleware(metrics: metrics))
        if !configuration.corsOrigins.isEmpty {
            let allowOrigin: CORSMiddleware<ProxyRequestContext>.AllowOriginExtended
            if configuration.corsOrigins.contains("*") {
                allowOrigin = .all
            } else {
                router.add(middleware: CORSOriginGate(allowed: Set(configuration.corsOrigins)))
                allowOrigin = .originBased
            }
            router.add(
                middleware: CORSMiddleware(
                    allowOrigin: allowOrigin,
                    allowHeaders: [.accept, .authorization, .contentType, .origin, .requestID],
                    allowMethods: [.get, .post, .options],
                    exposedHeaders: [
                        "x-request-id", "x-modelmesh-pool", "x-modelmesh-model", "x-modelmesh-provider",
                        "x-modelmesh-attempts", "retry-after",
                    ],
                    maxAge: .seconds(600)))
        }
        router.add(middleware: OpenAIErrorMiddleware(routes: routes.map { ($0.method, $0.path) }))
        if !configuration.tokens.isEmpty || !configuration.adminTokens.isEmpty {
            router.add(
                middleware: BearerAuthMiddleware(
                    tokens: configuration.tokens, adminTokens: configuration.adminTokens, openPaths: Self.openPaths))
        }
        if configuration.rateLimitPerMinute > 0 {
            router.add(
                middleware: RateLimitMiddleware(
                    limiter: TokenBucketLimiter(
                        perMinute: configuration.rateLimitPerMinute, burst: configuration.rateLimitBurst),
                    exemptPaths: Self.openPaths.union(["/metrics"])))
        }
        for route in routes {
            router.on(RouterPath(route.path), method: route.method, use: route.handler)
        }
        return router
    }
}

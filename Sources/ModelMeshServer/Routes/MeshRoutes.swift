import Foundation
import HTTPTypes
import Hummingbird
import ModelMesh
import NIOCore

extension ProxyHandlers {
    /// `GET /v1/mesh/state`: every pool, model and provider — who is out, why, until when.
    func state(_ request: Request, context: ProxyRequestContext) async throws -> Response {
        try Self.json(mesh.describe())
    }

    /// `POST /v1/mesh/reload`: reads the configuration file again and applies it; answers
    /// with what changed (``ReloadReport``), or 400 listing every problem of an invalid file
    /// (the mesh is then unchanged). Needs an admin token, and auth on.
    func reload(_ request: Request, context: ProxyRequestContext) async throws -> Response {
        guard authEnabled else {
            throw ProxyError(
                .forbidden, "Reloading over HTTP needs an admin token, and this proxy has auth off",
                code: "permission_denied",
                hint: "Set proxy.auth.admin_tokens (or --admin-token) and send one, or send the process SIGHUP")
        }
        guard let reloader else {
            throw ProxyError(
                .conflict, "This proxy was not started from a configuration file: there is nothing to reload",
                code: "nothing_to_reload", hint: "Start it with `modelmesh serve --config FILE`")
        }
        do {
            return try Self.json(try reloader.reload(trigger: "api"))
        } catch let error as ConfigurationError {
            throw ProxyError(
                .badRequest, error.description, code: "invalid_configuration",
                hint: "Nothing changed: the mesh still runs configuration version \(mesh.configurationVersion.version)")
        } catch let error as ModelMeshError {
            throw ProxyError(
                .badRequest, error.message, code: "invalid_configuration",
                hint: (error.hint.map { $0 + ". " } ?? "")
                    + "Nothing changed: the mesh still runs configuration version \(mesh.configurationVersion.version)")
        }
    }

    /// `POST /v1/mesh/explain`: the dry run of a chat completion request; nothing is sent.
    func explain(_ request: Request, context: ProxyRequestContext) async throws -> Response {
        let chat = try await decodeBody(ChatCompletionRequest.self, from: request, what: "chat completion request")
        if chat.model.isEmpty { throw ProxyError.invalidRequest("Missing required field: model", param: "model") }
        return try Self.json(mesh.explain(chat, options: RoutingOptions(requestID: context.requestID)))
    }

    struct StateChange: Codable {
        var model: String
        var pool: String?
        var action: String
        /// Pools in which the model's state changed.
        var changed: Int
    }

    /// `POST /v1/mesh/models/{id}/activate` and `.../deactivate`, optionally `?pool=`.
    func changeModelState(_ request: Request, context: ProxyRequestContext) async throws -> Response {
        var components = context.parameters.getCatchAll().map(String.init)
        guard components.count >= 2, let action = components.popLast(), action == "activate" || action == "deactivate"
        else {
            throw ProxyError.pathNotFound(request.method, request.uri.path)
        }
        let model = components.joined(separator: "/")
        let pool = request.uri.queryParameters.get("pool").flatMap { $0.isEmpty ? nil : $0 }
        let changed =
            action == "activate"
            ? try mesh.activate(model: model, pool: pool) : try mesh.deactivate(model: model, pool: pool)
        context.logger.info(
            "Model state changed through the API",
            metadata: ["model": "\(model)", "pool": "\(pool ?? "*")", "action": "\(action)", "changed": "\(changed)"])
        return try Self.json(StateChange(model: model, pool: pool, action: action, changed: changed))
    }

    struct ProviderStateChange: Codable {
        var provider: String
        var action: String
        /// The provider's state afterwards: `active` or `deactivated`.
        var state: String
    }

    /// `POST /v1/mesh/providers/{id}/activate` and `.../deactivate`: every model of the
    /// provider, in every pool, out (reason `provider_deactivated`) or back.
    func changeProviderState(_ request: Request, context: ProxyRequestContext, action: String) async throws -> Response {
        let provider = try context.parameters.require("id")
        if action == "activate" { try mesh.activateProvider(provider) } else { try mesh.deactivateProvider(provider) }
        context.logger.info(
            "Provider state changed through the API", metadata: ["provider": "\(provider)", "action": "\(action)"])
        let state = mesh.describe().providers.first { $0.id == provider }?.state ?? "unknown"
        return try Self.json(ProviderStateChange(provider: provider, action: action, state: state))
    }

    /// `GET /v1/mesh/events`: routing events as server-sent events, until the client goes
    /// away or the server shuts down. `?events=model_deactivated,rotation` keeps only the
    /// listed event types or categories.
    func events(_ request: Request, context: ProxyRequestContext) async throws -> Response {
        var filter: Set<EventType>?
        if let names = request.uri.queryParameters.get("events"), !names.isEmpty {
            var selected = Set<EventType>()
            for name in names.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty
            {
                guard let types = EventType.matching(filterName: name) else {
                    throw ProxyError.invalidRequest(
                        "Unknown event type '\(name)'", param: "events",
                        hint: "Use event types such as model_deactivated, or rotation, deactivation, recovery, health")
                }
                selected.formUnion(types)
            }
            filter = selected
        }
        guard let subscriber = eventStreams.open() else {
            throw ModelMeshError(.shutDown, "The proxy is shutting down")
        }
        // Subscribe before answering, so every event after the response head is delivered.
        let source = mesh.events.events()
        let hub = eventStreams
        let selected = filter
        let heartbeat = heartbeatInterval
        return Response(
            status: .ok, headers: ServerSentEvents.headers,
            body: ResponseBody { writer in
                defer { hub.remove(subscriber.id) }
                try await writer.write(ServerSentEvents.comment("modelmesh events"))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    let continuation = subscriber.continuation
                    group.addTask {
                        for await event in source where selected?.contains(event.eventType) ?? true {
                            continuation.yield(ServerSentEvents.event(event.jsonLine()))
                        }
                        continuation.finish()
                    }
                    group.addTask {
                        // Comments keep proxies from timing out an idle stream and reveal a
                        // client that went away.
                        while !Task.isCancelled {
                            try await Task.sleep(for: heartbeat)
                            continuation.yield(ServerSentEvents.comment("keep-alive"))
                        }
                    }
                    defer { group.cancelAll() }
                    for await line in subscriber.events {
                        try await writer.write(line)
                    }
                }
                try await writer.finish(nil)
            })
    }
}

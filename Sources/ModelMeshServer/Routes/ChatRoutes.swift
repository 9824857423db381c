import Foundation
import HTTPTypes
import Hummingbird
import ModelMesh

extension ProxyHandlers {
    /// `POST /v1/chat/completions`: JSON, or SSE when `stream` is true.
    func chatCompletions(_ request: Request, context: ProxyRequestContext) async throws -> Response {
        var (decoded, bytes) = try await decodeBodyKeepingBytes(
            ChatCompletionRequest.self, from: request, what: "chat completion request")
        // The scan agrees with the decoder on every body the decoder accepts; a body it reads
        // differently is simply encoded again.
        let wire = Array(bytes.readableBytesView)
        if let scan = try? OpenAIRequestScan.scan(wire), scan.model == decoded.model, scan.stream == decoded.stream {
            decoded.wireBody = OpenAIWireBody(bytes: wire, scan: scan)
        }
        let chat = decoded
        if chat.model.isEmpty { throw ProxyError.invalidRequest("Missing required field: model", param: "model") }
        if chat.messages.isEmpty {
            throw ProxyError.invalidRequest(
                "Missing required field: messages (it must not be empty)", param: "messages")
        }
        if let issue = chat.fieldIssue() {
            throw ProxyError.invalidRequest(issue.message, param: issue.param, hint: issue.hint)
        }
        let options = routingOptions(request, context: context)
        let mesh = self.mesh
        guard chat.stream == true else {
            let routed = try await untilClientLeaves(context) { try await mesh.route(chat, options: options) }
            let headers = Self.routingHeaders(
                pool: routed.poolID, model: routed.modelID, provider: routed.providerID,
                attempts: routed.attempts.count)
            if let body = routed.body { return Self.json(encoded: body, headers: headers) }
            return try Self.json(routed.value, headers: headers)
        }
        // Returns once the first chunk arrived: failures before it are ordinary JSON errors.
        let routed = try await untilClientLeaves(context) { try await mesh.routeStream(chat, options: options) }
        var headers = ServerSentEvents.headers
        headers.append(
            contentsOf: Self.routingHeaders(
                pool: routed.poolID, model: routed.modelID, provider: routed.providerID, attempts: routed.attempts.count
            ))
        let chunks = routed.chunks
        let requestID = context.requestID
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                try await ChatStreamRelay.relay(chunks, requestID: requestID, to: &writer)
            })
    }

    /// `POST /v1/embeddings`.
    func embeddings(_ request: Request, context: ProxyRequestContext) async throws -> Response {
        let embedding = try await decodeBody(EmbeddingRequest.self, from: request, what: "embeddings request")
        if embedding.model.isEmpty { throw ProxyError.invalidRequest("Missing required field: model", param: "model") }
        let options = routingOptions(request, context: context)
        let mesh = self.mesh
        let routed = try await untilClientLeaves(context) { try await mesh.routeEmbeddings(embedding, options: options) }
        return try Self.json(
            routed.value,
            headers: Self.routingHeaders(
                pool: routed.poolID, model: routed.modelID, provider: routed.providerID, attempts: routed.attempts.count
            ))
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import ModelMesh

extension ProxyHandlers {
    /// `POST /v1/chat/completions`: JSON, or SSE when `stream` is true.
    func chatCompletions(_ request: Request, context: ProxyRequestContext) async throws -> Response {
        let chat = try await readChatRequest(request)
        if chat.model.isEmpty { throw ProxyError.invalidRequest("Missing required field: model", param: "model") }
        if chat.messages.isEmpty {
            throw ProxyError.invalidRequest(
                "Missing required field: messages (it must not be empty)", param: "messages")
        }
        if let issue = chat.fieldIssue() {
            throw ProxyError.invalidRequest(issue.message, param: issue.param, hint: issue.hint)
        }
        var checked = routingOptions(request, context: context)
        // The checks above are the ones `Mesh` runs, worded for the API.
        checked.requestChecked = true
        let options = checked
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

    /// Reads a chat completion request: a plain one (the common case) straight from the
    /// scan of its bytes, any other through `JSONDecoder`; either way with the bytes kept
    /// for the OpenAI-compatible connectors to pass on.
    func readChatRequest(_ request: Request) async throws -> ChatCompletionRequest {
        let what = "chat completion request"
        let buffer = try await readBody(request)
        guard buffer.readableBytes > 0 else {
            throw ProxyError.invalidRequest("Request body is empty: send a JSON \(what)")
        }
        let wire = Array(buffer.readableBytesView)
        // A body the scanner refuses is refused by the decoder too, which words the error.
        let scanned = try? OpenAIRequestScan.scanRequest(wire)
        if let scanned, var plain = scanned.plain {
            plain.wireBody = OpenAIWireBody(bytes: wire, scan: scanned.scan)
            return plain
        }
        var decoded = try decodeJSON(ChatCompletionRequest.self, from: buffer, what: what)
        // The scan agrees with the decoder on every body the decoder accepts; a body it reads
        // differently is simply encoded again.
        if let scan = scanned?.scan, scan.model == decoded.model, scan.stream == decoded.stream {
            decoded.wireBody = OpenAIWireBody(bytes: wire, scan: scan)
        }
        return decoded
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

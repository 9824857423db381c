import Foundation
import Hummingbird
import ModelMesh
import NIOCore
import Synchronization

/// A simulated OpenAI-compatible upstream on loopback, for the built-in demo: it answers
/// chat completions (JSON or streamed word by word), embeddings and the model list, and —
/// when `flaky` — fails a burst of three attempts out of every twenty with a 503, so the
/// demo shows a retry, a rotation, a deactivation and, after the cooldown, a recovery.
struct DemoUpstream: Sendable {
    let name: String
    let flaky: Bool

    /// Starts the upstream on an ephemeral loopback port; cancel the task to stop it.
    func start() async throws -> (port: Int, task: Task<Void, any Error>) {
        let attempts = Atomic<Int>(0)
        let router = Router()
        let name = name
        let flaky = flaky
        router.post("/v1/chat/completions") { request, context -> Response in
            let chat = try await request.decode(as: ChatCompletionRequest.self, context: context)
            let attempt = attempts.wrappingAdd(1, ordering: .relaxed).newValue
            if flaky, attempt >= 2, (attempt - 2) % 20 < 3 {
                let body: JSONValue = [
                    "error": ["message": .string("\(name) is overloaded (simulated)"), "type": "server_error", "code": nil]
                ]
                return Self.json(status: .serviceUnavailable, body)
            }
            let said = chat.messages.last(where: { $0.role == "user" })?.content?.text ?? ""
            let text = "Hello from \(name)! You said: \(said.prefix(80))"
            let usage = Usage(promptTokens: RequestSize.tokens(said), completionTokens: RequestSize.tokens(text))
            guard chat.stream == true else {
                let completion = ChatCompletion(
                    id: "chatcmpl-demo-\(attempt)", model: chat.model,
                    choices: [.init(message: .assistant(text), finishReason: "stop")], usage: usage)
                return try Self.json(status: .ok, encoding: completion)
            }
            let includeUsage = chat.streamOptions?["include_usage"]?.boolValue == true
            let model = chat.model
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream"],
                body: ResponseBody { writer in
                    let encoder = JSONEncoder()
                    let id = "chatcmpl-demo-\(attempt)"
                    var chunks = [ChatCompletionChunk(id: id, model: model, choices: [.init(delta: .init(role: "assistant", content: ""))])]
                    for (i, word) in text.split(separator: " ").enumerated() {
                        chunks.append(
                            ChatCompletionChunk(id: id, model: model, choices: [.init(delta: .init(content: (i == 0 ? "" : " ") + word))]))
                    }
                    chunks.append(ChatCompletionChunk(id: id, model: model, choices: [.init(delta: .init(), finishReason: "stop")]))
                    if includeUsage { chunks.append(ChatCompletionChunk(id: id, model: model, choices: [], usage: usage)) }
                    for chunk in chunks {
                        try await writer.write(ByteBuffer(string: "data: "))
                        try await writer.write(ByteBuffer(data: try encoder.encode(chunk)))
                        try await writer.write(ByteBuffer(string: "\n\n"))
                        try await Task.sleep(for: .milliseconds(40))
                    }
                    try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                    try await writer.finish(nil)
                })
        }
        router.post("/v1/embeddings") { request, context -> Response in
            let embedding = try await request.decode(as: EmbeddingRequest.self, context: context)
            let data = embedding.input.texts.enumerated().map { index, text in
                EmbeddingResponse.Embedding(
                    index: index, embedding: (0..<8).map { Double((text.utf8.count * 31 + $0 * 17) % 100) / 100 })
            }
            let tokens = embedding.input.texts.reduce(0) { $0 + RequestSize.tokens($1) }
            return try Self.json(
                status: .ok,
                encoding: EmbeddingResponse(
                    data: data, model: embedding.model, usage: Usage(promptTokens: tokens, completionTokens: 0)))
        }
        router.get("/v1/models") { _, _ -> Response in
            let list: JSONValue = ["object": "list", "data": [["id": "chat", "object": "model", "owned_by": .string(name)]]]
            return Self.json(status: .ok, list)
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0), serverName: name),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) })
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            task.cancel()
            throw ValidationErrorMessage("The demo upstream '\(name)' could not start")
        }
        return (port, task)
    }

    static func json(status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        (try? json(status: status, encoding: value)) ?? Response(status: .internalServerError)
    }

    static func json(status: HTTPResponse.Status, encoding value: some Encodable) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(data: try JSONEncoder().encode(value))))
    }
}

/// About four bytes per token.
enum RequestSize {
    static func tokens(_ text: some StringProtocol) -> Int { max(1, text.utf8.count / 4) }
}

/// An error whose description is its message.
struct ValidationErrorMessage: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

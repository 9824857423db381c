import Foundation
import ModelMesh
import ModelMeshProviders
import ModelMeshTesting
import Testing

/// A fake upstream and a transport for one test, shut down afterwards.
struct Harness {
    static let apiKey = "sk-test-SECRET-0123456789abcdef"

    let fake: FakeUpstream
    let transport: HTTPTransport

    /// Runs `body` with a fresh fake upstream and transport.
    static func run(
        transport configuration: HTTPTransport.Configuration = .init(), _ body: (Harness) async throws -> Void
    ) async throws {
        let fake = try await FakeUpstream.start()
        let transport = HTTPTransport(configuration: configuration)
        let harness = Harness(fake: fake, transport: transport)
        do {
            try await body(harness)
        } catch {
            try await transport.shutdown()
            try await fake.shutdown()
            throw error
        }
        try await transport.shutdown()
        try await fake.shutdown()
    }

    /// A provider pointing at the fake (`<fake>/v1` unless `baseURL` is given).
    func provider(
        connector: String = "openai.llm.v1", id: String = "openai", apiKey: String? = Harness.apiKey,
        baseURL: String? = nil, timeout: Duration = .seconds(5), streamIdleTimeout: Duration? = nil,
        headers: [String: Secret] = [:], settings: [String: JSONValue] = [:]
    ) throws -> OpenAICompatibleProvider {
        try OpenAICompatibleProvider(
            configuration: ProviderConfiguration(
                id: id, connector: connector, baseURL: baseURL ?? fake.url("/v1"), apiKey: apiKey.map(Secret.init),
                timeout: timeout, headers: headers, settings: settings),
            transport: transport, streamIdleTimeout: streamIdleTimeout)
    }

    static let target = ModelTarget(modelID: "openai.gpt-4o", wireName: "gpt-4o", providerID: "openai")

    static func context(deadline: Duration = .seconds(10)) -> AttemptContext {
        AttemptContext(requestID: "req-test-1", deadline: Date().adding(deadline))
    }

    static func request(_ text: String = "Hello", model: String = "chat-pool") -> ChatCompletionRequest {
        ChatCompletionRequest(model: model, messages: [.user(text)])
    }
}

/// Collects a stream into its chunks and the error that ended it (if any).
func drain(_ stream: ProviderStream) async -> (chunks: [ChatCompletionChunk], error: (any Error)?) {
    var chunks: [ChatCompletionChunk] = []
    do {
        for try await chunk in stream.chunks { chunks.append(chunk) }
        return (chunks, nil)
    } catch {
        return (chunks, error)
    }
}

/// The text of a list of chunks.
func text(of chunks: [ChatCompletionChunk]) -> String {
    chunks.compactMap { $0.choices.first?.delta.content }.joined()
}


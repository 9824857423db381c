import Foundation
import ModelMesh
import Synchronization

/// A provider scripted call by call, for testing code that uses ModelMesh without network
/// or credits.
///
/// Each call (complete, stream or embed) takes the next step of the script; when the
/// script is empty the ``fallback`` step answers. Every call is recorded.
///
/// ```swift
/// let primary = MockProvider(script: [.fail(.serverError, status: 503), .fail(.serverError, status: 503)])
/// let backup = MockProvider(fallback: .reply("from backup"))
/// ```
public final class MockProvider: ProviderConnector {
    /// One scripted behaviour.
    public indirect enum Step: Sendable {
        /// Answer with this text (streams split it into words).
        case reply(String, usage: Usage? = Usage(promptTokens: 10, completionTokens: 5))
        /// Answer with this exact completion.
        case completion(ChatCompletion)
        /// Answer with `completion`, handing `body` on as the upstream's own bytes (as an
        /// OpenAI-compatible connector does when it decoded an answer unchanged).
        case passThrough(ChatCompletion, body: Data)
        /// Fail with an error of this class.
        case fail(ProviderErrorClass, status: Int? = nil, message: String = "scripted failure", retryAfter: Duration? = nil)
        /// Fail with this exact error.
        case error(ProviderError)
        /// Wait on the engine's clock, then perform `then`.
        case delay(Duration, then: Step)
        /// Accept and never answer: fails with `.timeout` when the attempt's deadline passes.
        case hang
        /// Stream these pieces; `cutAfter` ends the stream with `.streamInterrupted` after
        /// that many pieces, `stallAfter` goes silent after that many pieces (until cancelled),
        /// `pieceDelay` waits between pieces (real time).
        case stream(
            [String], usage: Usage? = Usage(promptTokens: 10, completionTokens: 5), cutAfter: Int? = nil,
            stallAfter: Int? = nil, pieceDelay: Duration? = nil, firstDelay: Duration? = nil)
        /// Embeddings of this dimension (values derived from the text).
        case embedding(dimensions: Int)
    }

    /// One recorded call.
    public struct Call: Sendable {
        public var kind: String
        public var request: ChatCompletionRequest?
        public var target: ModelTarget
        public var attempt: Int
        public var time: Date
    }

    private struct State {
        var script: [Step]
        var calls: [Call] = []
        var healthy = true
        var listed: [String] = []
        var listError: ProviderError?
    }

    private let state: Mutex<State>
    /// The step used once the script is exhausted.
    public let fallback: Step

    public init(script: [Step] = [], fallback: Step = .reply("ok")) {
        state = Mutex(State(script: script))
        self.fallback = fallback
    }

    /// Appends steps to the script.
    public func enqueue(_ steps: Step...) {
        state.withLock { $0.script.append(contentsOf: steps) }
    }

    /// Every call so far.
    public var calls: [Call] { state.withLock { $0.calls } }

    /// Number of requests so far (complete, stream, embed; model listings are not counted).
    public var callCount: Int { state.withLock { $0.calls.count { $0.kind != "list_models" } } }

    /// What ``listModels()`` returns.
    public func setListedModels(_ ids: [String]) { state.withLock { $0.listed = ids } }

    /// Makes ``listModels()`` fail with `error` (nil: answer again).
    public func failListModels(with error: ProviderError?) { state.withLock { $0.listError = error } }

    /// Records a `list_models` call, then answers with the listed models or the set error.
    public func listModels() async throws -> [ProviderModelInfo] {
        let (listed, error) = state.withLock { s in
            s.calls.append(
                Call(
                    kind: "list_models", request: nil, target: ModelTarget(modelID: "", wireName: "", providerID: ""),
                    attempt: 0, time: Date()))
            return (s.listed, s.listError)
        }
        if let error { throw error }
        return listed.map { ProviderModelInfo(id: $0) }
    }

    /// Whether ``healthCheck()`` succeeds.
    public func setHealthy(_ healthy: Bool) { state.withLock { $0.healthy = healthy } }

    private func nextStep(_ kind: String, _ request: ChatCompletionRequest?, _ target: ModelTarget,
        _ context: AttemptContext) -> Step
    {
        state.withLock { s in
            s.calls.append(
                Call(kind: kind, request: request, target: target, attempt: context.attempt, time: context.clock.now()))
            return s.script.isEmpty ? fallback : s.script.removeFirst()
        }
    }

    public func complete(_ request: ChatCompletionRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderCompletion
    {
        var step = nextStep("complete", request, target, context)
        while true {
            switch step {
            case .reply(let text, let usage):
                return ProviderCompletion(completion: Self.completion(text, model: target.wireName, usage: usage))
            case .completion(let c):
                return ProviderCompletion(completion: c)
            case .passThrough(let c, let body):
                return ProviderCompletion(completion: c, body: body)
            case .stream(let pieces, let usage, _, _, _, _):
                return ProviderCompletion(completion: Self.completion(pieces.joined(), model: target.wireName, usage: usage))
            case .delay(let d, let then):
                try await context.clock.sleep(for: d)
                step = then
            default:
                try await perform(step, context)
                throw ProviderError(.invalidRequest, message: "This mock step does not answer chat completions")
            }
        }
    }

    public func stream(_ request: ChatCompletionRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderStream
    {
        var step = nextStep("stream", request, target, context)
        while case .delay(let d, let then) = step {
            try await context.clock.sleep(for: d)
            step = then
        }
        let pieces: [String]
        var usage: Usage?
        var cutAfter: Int?
        var stallAfter: Int?
        var pieceDelay: Duration?
        var firstDelay: Duration?
        switch step {
        case .reply(let text, let u):
            pieces = text.split(separator: " ", omittingEmptySubsequences: false).enumerated().map {
                $0.offset == 0 ? String($0.element) : " " + $0.element
            }
            usage = u
        case .stream(let p, let u, let cut, let stall, let delay, let first):
            (pieces, usage, cutAfter, stallAfter, pieceDelay, firstDelay) = (p, u, cut, stall, delay, first)
        default:
            try await perform(step, context)
            throw ProviderError(.invalidRequest, message: "This mock step does not stream")
        }
        let model = target.wireName
        let id = "chatcmpl-mock-\(context.requestID)"
        let (stream, continuation) = AsyncThrowingStream<ChatCompletionChunk, any Error>.makeStream()
        let producer = Task {
            do {
                if let firstDelay { try await Task.sleep(for: firstDelay) }
                continuation.yield(
                    ChatCompletionChunk(id: id, model: model, choices: [.init(delta: .init(role: "assistant", content: ""))]))
                for (index, piece) in pieces.enumerated() {
                    if let cutAfter, index >= cutAfter {
                        throw ProviderError(.streamInterrupted, message: "The upstream closed the stream without [DONE]")
                    }
                    if let stallAfter, index >= stallAfter {
                        try await Task.sleep(for: .seconds(3600))
                    }
                    if let pieceDelay, index > 0 { try await Task.sleep(for: pieceDelay) }
                    continuation.yield(ChatCompletionChunk(id: id, model: model, choices: [.init(delta: .init(content: piece))]))
                }
                continuation.yield(
                    ChatCompletionChunk(id: id, model: model, choices: [.init(delta: .init(), finishReason: "stop")]))
                if let usage { continuation.yield(ChatCompletionChunk(id: id, model: model, choices: [], usage: usage)) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in producer.cancel() }
        return ProviderStream(chunks: stream)
    }

    public func embed(_ request: EmbeddingRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderEmbedding
    {
        var step = nextStep("embed", nil, target, context)
        while case .delay(let d, let then) = step {
            try await context.clock.sleep(for: d)
            step = then
        }
        var dimensions = 8
        switch step {
        case .embedding(let d): dimensions = d
        case .reply, .completion, .stream: break
        default:
            try await perform(step, context)
        }
        let data = request.input.texts.enumerated().map { index, text in
            EmbeddingResponse.Embedding(
                index: index,
                embedding: (0..<dimensions).map { i in Double((text.utf8.count * 31 + i * 7) % 100) / 100 })
        }
        let tokens = request.input.texts.reduce(0) { $0 + $1.utf8.count / 4 + 1 }
        return ProviderEmbedding(
            response: EmbeddingResponse(
                data: data, model: target.wireName, usage: Usage(promptTokens: tokens, completionTokens: 0)))
    }

    public func healthCheck() async throws {
        if !state.withLock({ $0.healthy }) {
            throw ProviderError(.connection, message: "The mock provider is scripted as down")
        }
    }

    /// Performs the failing steps.
    private func perform(_ step: Step, _ context: AttemptContext) async throws {
        switch step {
        case .fail(let errorClass, let status, let message, let retryAfter):
            throw ProviderError(errorClass, status: status, message: message, retryAfter: retryAfter)
        case .error(let error):
            throw error
        case .hang:
            let wait = context.deadline.timeIntervalSince(context.clock.now())
            if wait > 0 { try await context.clock.sleep(for: .seconds(wait)) }
            throw ProviderError(.timeout, message: "The upstream sent nothing before the attempt deadline")
        default:
            return
        }
    }

    /// A completion with one assistant message.
    public static func completion(_ text: String, model: String, usage: Usage?) -> ChatCompletion {
        ChatCompletion(
            id: "chatcmpl-mock", model: model,
            choices: [.init(message: .assistant(text), finishReason: "stop")], usage: usage)
    }
}

import ArgumentParser
import Foundation
import ModelMesh

/// Measures the in-process routing decision for a pool of ten models, against a baseline
/// measured in the same run: calling the provider directly with no routing at all.
///
/// Run with `swift run -c release modelmesh-routing-bench [--iterations N] [--json]`.
@main
struct RoutingBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modelmesh-routing-bench",
        abstract: "Time the in-process routing decision for a pool of ten models against a direct provider call.")

    @Option(help: "Calls timed per figure (after a warm-up of a tenth of that, at most 10,000).")
    var iterations = 200_000

    @Flag(help: "Print the figures as one JSON object instead of a table.")
    var json = false

    /// One timed figure: nanoseconds per call, mean over the iterations.
    struct Figure: Codable {
        var strategy: String?
        var name: String
        var nanoseconds: Double
    }

    func validate() throws {
        guard iterations > 0 else { throw ValidationError("--iterations must be a positive number, got \(iterations)") }
    }

    func run() async throws {
        var config = MeshConfiguration()
        var registry = ProviderRegistry()
        let provider: any ProviderConnector = InstantProvider()
        for i in 0..<10 {
            config.providers.append(ProviderConfiguration(id: "p\(i)"))
            config.models.append(
                ModelConfiguration(
                    id: "vendor.model-\(i)", provider: "p\(i)", capabilities: ["generation.text-generation.chat-completion"],
                    features: [.toolCalling], contextWindow: 128_000,
                    pricing: ModelPricing(inputPerMillion: Double(i + 1), outputPerMillion: Double(2 * i + 2))))
            registry.register(provider: "p\(i)", instance: provider)
        }
        let request = ChatCompletionRequest(model: "chat", messages: [.system("Be brief."), .user("Hello there")])
        let target = ModelTarget(modelID: "vendor.model-0", wireName: "model-0", providerID: "p0")
        let context = AttemptContext(requestID: "bench", deadline: .distantFuture)
        let iterations = iterations

        // Baseline: the provider called directly.
        let direct = try await Self.measure(iterations) {
            _ = try await provider.complete(request, target: target, context: context)
        }
        var figures = [Figure(strategy: nil, name: "direct", nanoseconds: direct)]
        for strategy in ["stick-until-failure", "round-robin", "cost-first", "latency-first", "load-balanced"] {
            config.pools = [PoolConfiguration(id: "chat", capability: "chat-completion", strategy: strategy)]
            let mesh = try Mesh(configuration: config, providers: registry, connectors: [])
            let decision = try await Self.measure(iterations) { _ = try mesh.decide(request) }
            let routed = try await Self.measure(iterations) { _ = try await mesh.route(request) }
            figures.append(Figure(strategy: strategy, name: "decision", nanoseconds: decision))
            figures.append(Figure(strategy: strategy, name: "routed", nanoseconds: routed))
            figures.append(Figure(strategy: strategy, name: "added", nanoseconds: routed - direct))
        }
        // Tracing on: a request span and an attempt span with their attributes, per call.
        config.pools = [PoolConfiguration(id: "chat", capability: "chat-completion")]
        let mesh = try Mesh(configuration: config, providers: registry, connectors: [])
        var traced = RoutingOptions()
        traced.tracer = DiscardingTracer()
        let tracedOptions = traced
        let untraced = try await Self.measure(iterations) { _ = try await mesh.route(request) }
        let tracing = try await Self.measure(iterations) { _ = try await mesh.route(request, options: tracedOptions) }
        figures.append(Figure(strategy: "stick-until-failure", name: "tracing off", nanoseconds: untraced))
        figures.append(Figure(strategy: "stick-until-failure", name: "tracing on", nanoseconds: tracing))

        if json {
            struct Report: Codable { var poolSize: Int; var iterations: Int; var figures: [Figure] }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let data = try encoder.encode(Report(poolSize: 10, iterations: iterations, figures: figures))
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("ModelMesh in-process routing, pool of 10 models, \(iterations) iterations")
        print(String(repeating: "-", count: 72))
        for figure in figures {
            let name = switch (figure.strategy, figure.name) {
            case (nil, _): "direct provider call (baseline)"
            case (let strategy?, "decision"): "routing decision, \(strategy)"
            case (let strategy?, "routed"): "routed request, \(strategy)"
            case (_, "tracing off"): "routed request, tracing off"
            case (_, "tracing on"): "routed request, tracing on (spans dropped)"
            case (let strategy?, _): "  routing added, \(strategy)"
            }
            let pad = String(repeating: " ", count: max(1, 46 - name.count))
            print("\(name)\(pad)\(String(format: "%9.0f ns", figure.nanoseconds))   ×\(String(format: "%.2f", figure.nanoseconds / direct)) baseline")
        }
    }

    /// Mean nanoseconds per call, after a warm-up.
    static func measure(_ n: Int, _ body: @Sendable () async throws -> Void) async throws -> Double {
        for _ in 0..<min(n / 10, 10_000) { try await body() }
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<n { try await body() }
        let elapsed = clock.now - start
        return elapsed.seconds * 1e9 / Double(n)
    }
}

/// A provider that answers at once with a prepared completion and keeps no record of its
/// calls (a recording mock would grow with every iteration and time its own bookkeeping).
struct InstantProvider: ProviderConnector {
    let answer = ProviderCompletion(
        completion: ChatCompletion(
            id: "chatcmpl-bench", model: "model-0", choices: [.init(message: .assistant("ok"), finishReason: "stop")],
            usage: Usage(promptTokens: 5, completionTokens: 1)))

    // Kept out of line so the baseline times a real call, as the router makes one.
    @inline(never)
    func complete(_ request: ChatCompletionRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderCompletion
    {
        answer
    }

    func stream(_ request: ChatCompletionRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderStream
    {
        let chunk = ChatCompletionChunk(id: "chatcmpl-bench", model: target.wireName, choices: [.init(delta: .init(content: "ok"))])
        return ProviderStream(chunks: AsyncThrowingStream { continuation in
            continuation.yield(chunk)
            continuation.finish()
        })
    }
}

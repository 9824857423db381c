import Foundation
import ModelMesh
import ModelMeshTesting

/// Measures the in-process routing decision for a pool of ten models, against a baseline
/// measured in the same run: calling the provider directly with no routing at all.
///
/// Run with `swift run -c release modelmesh-routing-bench [iterations]`.
@main
struct RoutingBenchmark {
    static func main() async throws {
        let iterations = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 200_000
        var config = MeshConfiguration()
        var registry = ProviderRegistry()
        let provider = MockProvider(fallback: .reply("ok", usage: Usage(promptTokens: 5, completionTokens: 1)))
        for i in 0..<10 {
            config.providers.append(ProviderConfiguration(id: "p\(i)"))
            config.models.append(
                ModelConfiguration(
                    id: "vendor.model-\(i)", provider: "p\(i)", capabilities: ["generation.text-generation.chat-completion"],
                    features: [.toolCalling], contextWindow: 128_000,
                    pricing: ModelPricing(inputPerMillion: Double(i + 1), outputPerMillion: Double(2 * i + 2))))
            registry.register(provider: "p\(i)", instance: provider)
        }
        var results: [(String, Double)] = []
        let request = ChatCompletionRequest(model: "chat", messages: [.system("Be brief."), .user("Hello there")])
        let target = ModelTarget(modelID: "vendor.model-0", wireName: "model-0", providerID: "p0")
        let context = AttemptContext(requestID: "bench", deadline: .distantFuture)

        // Baseline: the provider called directly.
        let direct = try await measure(iterations) { _ = try await provider.complete(request, target: target, context: context) }
        results.append(("direct provider call (baseline)", direct))

        for strategy in ["stick-until-failure", "round-robin", "cost-first", "latency-first", "load-balanced"] {
            config.pools = [PoolConfiguration(id: "chat", capability: "chat-completion", strategy: strategy)]
            let mesh = try Mesh(configuration: config, providers: registry, connectors: [])
            let decision = try await measure(iterations) { _ = try mesh.decide(request) }
            let routed = try await measure(iterations) { _ = try await mesh.route(request) }
            results.append(("routing decision, \(strategy)", decision))
            results.append(("routed request, \(strategy)", routed))
            results.append(("  routing added, \(strategy)", routed - direct))
        }

        print("ModelMesh in-process routing, pool of 10 models, \(iterations) iterations")
        print(String(repeating: "-", count: 72))
        for (name, ns) in results {
            let pad = String(repeating: " ", count: max(1, 46 - name.count))
            print("\(name)\(pad)\(String(format: "%9.0f ns", ns))   ×\(String(format: "%.2f", ns / direct)) baseline")
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

import Foundation
import ModelMesh
import ModelMeshProviders

/// Where the command-line program's mesh comes from: a file, the environment, or the demo.
struct MeshSource: Sendable {
    enum Kind: Sendable {
        case file(String)
        case autodetected([String])
        case demo
    }

    var configuration: MeshConfiguration
    var kind: Kind

    /// A YAML file, with the vendors' default pricing, windows and features filled in
    /// where the file leaves them out, and state persisted under the working directory when
    /// the file has no `storage:` section.
    static func file(_ path: String) throws -> MeshSource {
        var configuration = try ConfigurationLoader.load(path: path)
        BuiltInProviders.applyDefaults(to: &configuration)
        if !configuration.storage.isConfigured { configuration.storage = .persistentDefault }
        return MeshSource(configuration: configuration, kind: .file(path))
    }

    /// The configuration without observability connectors: for commands that only inspect
    /// the mesh, so nothing starts writing files or posting webhooks.
    var offline: MeshConfiguration {
        var copy = configuration
        copy.observability.connectors = []
        // Explaining a decision reads no shared state and writes none.
        copy.storage = StorageConfiguration()
        return copy
    }

    /// Providers found through API-key variables and local hosts; nil when there are none.
    static func autodetected(environment: [String: String] = ProcessInfo.processInfo.environment) -> MeshSource? {
        guard let configuration = BuiltInProviders.autodetectedConfiguration(environment: environment) else {
            return nil
        }
        return MeshSource(configuration: configuration, kind: .autodetected(configuration.providers.map(\.id)))
    }

    /// The built-in demo: two simulated upstreams on loopback, one of them flaky, behind a
    /// `chat-completion` pool and a `text-embeddings` pool, with events on the console.
    static func demo() async throws -> (MeshSource, [Task<Void, any Error>]) {
        let primary = try await DemoUpstream(name: "demo-primary", flaky: true).start()
        let backup = try await DemoUpstream(name: "demo-backup", flaky: false).start()
        var configuration = MeshConfiguration()
        for (id, port) in [("demo-primary", primary.port), ("demo-backup", backup.port)] {
            configuration.providers.append(
                ProviderConfiguration(
                    id: id, connector: "openai-compatible.llm.v1", baseURL: "http://127.0.0.1:\(port)/v1",
                    timeout: .seconds(10)))
        }
        configuration.models = [
            ModelConfiguration(
                id: "demo-primary.chat", provider: "demo-primary",
                capabilities: ["generation.text-generation.chat-completion"], features: [.prefill],
                contextWindow: 32_000, pricing: ModelPricing(inputPerMillion: 1, outputPerMillion: 2)),
            ModelConfiguration(
                id: "demo-backup.chat", provider: "demo-backup",
                capabilities: ["generation.text-generation.chat-completion"], features: [.prefill],
                contextWindow: 32_000, pricing: ModelPricing(inputPerMillion: 2, outputPerMillion: 4)),
            ModelConfiguration(
                id: "demo-backup.embed", provider: "demo-backup",
                capabilities: ["representation.embeddings.text-embeddings"]),
        ]
        var chat = PoolConfiguration(id: "chat-completion", capability: "chat-completion")
        chat.retry.initialDelay = .milliseconds(200)
        chat.recovery.cooldown = .seconds(10)
        configuration.pools = [chat, PoolConfiguration(id: "text-embeddings", capability: "text-embeddings")]
        return (MeshSource(configuration: configuration, kind: .demo), [primary.task, backup.task])
    }
}

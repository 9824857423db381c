import Foundation
import ModelMesh
import ModelMeshProviders
import Testing

/// `Mesh(configurationFile:)` builds whatever `modelmesh validate` accepts.
@Suite struct ConfigurationFileMeshTests {
    @Test func aFileWithEveryObservabilityConnectorBuildsAMesh() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mm-file-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let yaml = """
            providers:
              local: {connector: openai-compatible.llm.v1, base_url: "http://127.0.0.1:9/v1"}
            models:
              local.llama: {provider: local, capabilities: [chat-completion]}
            pools:
              chat: {capability: chat-completion}
            observability:
              connectors:
                - {connector: modelmesh.webhook.v1, url: "http://127.0.0.1:9/hook", events: [model_deactivated]}
                - {connector: modelmesh.prometheus.v1, channels: [events, logs]}
                - {connector: modelmesh.local-file.v1, path: "\(directory.path)/events.jsonl"}
                - {connector: modelmesh.console.v1}
                - {connector: modelmesh.null.v1}
            """
        let path = directory.appendingPathComponent("modelmesh.yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(ConfigurationLoader.report(path: path).issues.isEmpty)
        let mesh = try Mesh(configurationFile: path, providers: .builtIn)
        #expect(mesh.describe().pools.map(\.id) == ["chat"])
        await mesh.shutdown()
    }

    @Test func everyConnectorValidateAcceptsHasAFactory() {
        let buildable = ProviderRegistry.builtIn.observability
        // The callback connector wraps a Swift closure: validate rejects it in a file.
        for id in ConnectorID.observabilityConnectors where id != "modelmesh.callback.v1" {
            #expect(buildable.contains(id), "\(id)")
        }
    }
}

import Foundation
import ModelMesh
import ModelMeshTesting
import Testing

/// A provider taken out by a 401/403 comes back when its credentials work again.
@Suite struct ProviderCredentialsTests {
    @Test func aProviderOutForBadCredentialsIsProbedOnABackoffAndComesBack() async throws {
        let refused = MockProvider(script: [.fail(.authentication, status: 401, message: "invalid api key")])
        let backup = MockProvider(fallback: .reply("from b"))
        let f = try MeshFixture(models: [("a", refused), ("b", backup)])
        #expect(try await f.ask().modelID == "b")
        #expect(f.mesh.describe().providers.first { $0.id == "p-a" }?.reason == "auth_failure")

        // Not due before 30 s.
        await f.mesh.probeCredentials()
        #expect(refused.calls.filter { $0.kind == "list_models" }.isEmpty)

        // Due, but the key is still refused: the provider stays out and the wait doubles.
        refused.failListModels(with: ProviderError(.authentication, status: 401, message: "invalid api key"))
        f.clock.advance(by: .seconds(31))
        await f.mesh.probeCredentials()
        #expect(refused.calls.filter { $0.kind == "list_models" }.count == 1)
        #expect(f.mesh.describe().providers.first { $0.id == "p-a" }?.state == "deactivated")
        f.clock.advance(by: .seconds(31))
        await f.mesh.probeCredentials()
        #expect(refused.calls.filter { $0.kind == "list_models" }.count == 1)

        // The key works again: the next due probe brings the provider and its model back.
        refused.failListModels(with: nil)
        f.clock.advance(by: .seconds(30))
        await f.mesh.probeCredentials()
        #expect(refused.calls.filter { $0.kind == "list_models" }.count == 2)
        #expect(f.mesh.describe().providers.first { $0.id == "p-a" }?.state == "active")
        let recovered = try #require(f.recorder.events(.providerRecovered).first)
        #expect(recovered.metadata["trigger"] == "credentials_probe_success")
        #expect(f.recorder.events(.modelActivated).contains { $0.modelID == "a" })
        #expect(try await f.ask().modelID == "a")
    }

    @Test func aManualProviderDeactivationIsNotProbed() async throws {
        let a = MockProvider()
        let f = try MeshFixture(models: [("a", a), ("b", MockProvider())])
        try f.mesh.deactivateProvider("p-a")
        f.clock.advance(by: .seconds(3_600))
        await f.mesh.probeCredentials()
        #expect(a.calls.isEmpty)
        try f.mesh.activateProvider("p-a")
        #expect(try await f.ask().modelID == "a")
    }

    @Test func aSavedOutageIsDroppedWhenTheProviderSettingsChanged() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mm-fp-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func makeMesh(key: String, _ mock: MockProvider) throws -> Mesh {
            var config = MeshConfiguration()
            config.observability.connectors = []
            var registry = ProviderRegistry()
            for (id, provider) in [("a", mock), ("b", MockProvider())] {
                var p = ProviderConfiguration(id: "p-\(id)", connector: "mock.v1")
                p.apiKey = Secret(id == "a" ? key : "other-key")
                config.providers.append(p)
                config.models.append(
                    ModelConfiguration(id: id, provider: "p-\(id)", capabilities: ["generation.text-generation.chat-completion"]))
                registry.register(provider: "p-\(id)", instance: provider)
            }
            config.pools = [PoolConfiguration(id: "chat", capability: "chat-completion")]
            return try Mesh(
                configuration: config, providers: registry, clock: TestClock(), storage: LocalFileStateStorage(path: directory))
        }
        let first = try makeMesh(key: "sk-old-key-0001", MockProvider(script: [.fail(.authentication, status: 401)]))
        _ = try await first.route(ChatCompletionRequest(model: "chat", messages: [.user("hi")]))
        #expect(first.describe().providers.first { $0.id == "p-a" }?.reason == "auth_failure")
        await first.shutdown()

        // Same key: the outage is still known after a restart.
        let same = try makeMesh(key: "sk-old-key-0001", MockProvider())
        #expect(same.describe().providers.first { $0.id == "p-a" }?.reason == "auth_failure")
        await same.shutdown()

        // A new key: the provider gets a fresh try, and so does its model.
        let rotated = try makeMesh(key: "sk-new-key-0002", MockProvider())
        #expect(rotated.describe().providers.first { $0.id == "p-a" }?.state == "active")
        #expect(rotated.describe().pools[0].members[0].state == .active)
        #expect(try await rotated.route(ChatCompletionRequest(model: "chat", messages: [.user("hi")])).modelID == "a")
        // The state file holds no key.
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        for file in files {
            let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            #expect(!text.contains("sk-old-key") && !text.contains("sk-new-key"))
        }
    }
}

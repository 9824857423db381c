import Foundation
import ModelMesh
import ModelMeshTesting
import Testing

@Suite struct MeshConstructionTests {
    static let yaml = """
        providers:
          primary: {connector: openai.llm.v1, api_key: sk-test-primary}
          backup: {connector: openai.llm.v1, api_key: sk-test-backup}
        models:
          primary.fast:
            provider: primary
            capabilities: [chat-completion]
          backup.steady:
            provider: backup
            capabilities: [chat-completion]
        pools:
          chat:
            capability: chat-completion
            strategy: stick-until-failure
        observability:
          routing:
            connector: modelmesh.null.v1
        """

    @Test func buildsFromYAMLWithTwoProvidersOfTheSameConnector() async throws {
        let primary = MockProvider(script: [.fail(.serverError, status: 500), .fail(.serverError, status: 500), .fail(.serverError, status: 500)])
        let backup = MockProvider(fallback: .reply("steady"))
        var registry = ProviderRegistry()
        registry.register(connector: "openai.llm.v1") { config in
            config.id == "primary" ? primary : backup
        }
        let recorder = EventRecorder()
        let mesh = try Mesh(yaml: Self.yaml, providers: registry, connectors: [recorder], clock: TestClock())
        let answer = try await mesh.route(ChatCompletionRequest(model: "chat", messages: [.user("hi")]))
        #expect(answer.value.text == "steady")
        #expect(answer.providerID == "backup")
        #expect(backup.calls.first?.target.wireName == "steady")
        #expect(recorder.events(.modelRotated).count == 1)
        #expect(mesh.describe().providers.map(\.id) == ["backup", "primary"])
    }

    @Test func unknownConnectorIsAClearError() {
        #expect {
            _ = try Mesh(yaml: Self.yaml, providers: ProviderRegistry())
        } throws: { error in
            "\(error)".contains("providers.primary") && "\(error)".contains("openai.llm.v1")
                && !"\(error)".contains("sk-test")
        }
    }

    @Test func backgroundProbeBringsAStandbyModelBack() async throws {
        let primary = MockProvider(script: Array(repeating: .fail(.serverError, status: 503), count: 3))
        let f = try MeshFixture(models: [("a", primary), ("b", MockProvider())]) { $0.recovery.cooldown = .seconds(5) }
        _ = try await f.ask()
        await f.mesh.probeStandbyModels()  // still cooling down: nothing sent
        #expect(primary.callCount == 3)
        f.clock.advance(by: .seconds(6))
        await f.mesh.probeStandbyModels()
        #expect(primary.callCount == 4)
        #expect(f.recorder.events(.modelActivated).first?.metadata["trigger"] == "probe_success")
        #expect(f.mesh.describe().pools[0].members[0].state == .active)
    }

    @Test func configuredConnectorsReceiveEventsWithTheirFilters() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mm-events-\(UUID().uuidString).jsonl").path
        let yaml = Self.yaml.replacingOccurrences(
            of: "    connector: modelmesh.null.v1",
            with: "    connector: modelmesh.local-file.v1\n    path: \(path)\n    events: [rotation]")
        let primary = MockProvider(script: Array(repeating: .fail(.serverError, status: 500), count: 3))
        var registry = ProviderRegistry()
        registry.register(connector: "openai.llm.v1") { $0.id == "primary" ? primary : MockProvider() }
        let mesh = try Mesh(yaml: yaml, providers: registry, clock: TestClock())
        _ = try await mesh.route(ChatCompletionRequest(model: "chat", messages: [.user("hi")]))
        await mesh.shutdown()
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let events = lines.filter { $0.contains("\"event_type\"") }
        // model_deactivated happened too, but the filter lets only rotations through.
        #expect(events.count == 1)
        #expect(events.first?.contains("\"event_type\":\"model_rotated\"") == true)
        // The routing connector receives routing events only: no request log, trace or statistics line.
        #expect(lines.allSatisfy { $0.contains("\"event_type\"") && !$0.contains("\"kind\"") })
    }
}

@Suite struct DiscoveryTests {
    @Test func syncReportsNewAndDeprecatedModelsOnlyWhenTheListChanges() async throws {
        let mock = MockProvider()
        let f = try MeshFixture(models: [("vendor.alpha", mock)])
        mock.setListedModels(["alpha", "beta"])
        let first = await f.mesh.syncDiscovery()
        #expect(first == [DiscoveryChange(providerID: "p-vendor.alpha", new: ["beta"], deprecated: [])])
        #expect(await f.mesh.syncDiscovery().isEmpty)  // unchanged: no event
        mock.setListedModels(["beta", "gamma"])
        await f.mesh.syncDiscovery()
        let events = f.recorder.events(.discoveryModelsUpdated)
        #expect(events.count == 2)
        #expect(events[1].providerID == "p-vendor.alpha")
        #expect(events[1].metadata["new"] == ["gamma"])
        #expect(events[1].metadata["deprecated"] == ["alpha"])
    }
}

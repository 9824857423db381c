import Foundation
import ModelMesh
import ModelMeshProviders
import ModelMeshTesting
import Testing

/// `discovery.sync` that changes pools: an OpenAI-compatible upstream whose `/v1/models`
/// listing changes between syncs.
@Suite("Discovery changes pools", .timeLimit(.minutes(1)))
struct DiscoveryRegistrationTests {
    static func listing(_ ids: [String]) -> FakeResponse {
        .json(#"{"object": "list", "data": ["# + ids.map { #"{"id": "\#($0)", "object": "model"}"# }.joined(separator: ",") + "]}")
    }

    static func yaml(upstream: FakeUpstream, sync: String, second: FakeUpstream? = nil) -> String {
        var text = """
            providers:
              acme: {connector: openai-compatible.llm.v1, base_url: "\(upstream.url("/v1"))", api_key: sk-acme-test}

            """
        if let second {
            text += """
                  other: {connector: openai-compatible.llm.v1, base_url: "\(second.url("/v1"))", api_key: sk-other-test}

                """
        }
        text += """
            models:
              acme.alpha: {provider: acme, capabilities: [chat-completion]}
            pools:
              chat: {capability: chat-completion}
              embed: {capability: text-embeddings}
            observability: {connectors: []}
            discovery:
              sync: \(sync)
            """
        return text
    }

    func members(_ mesh: Mesh, _ pool: String = "chat") -> [String] {
        mesh.describe().pools.first { $0.id == pool }?.members.map(\.modelID) ?? []
    }

    @Test func newModelsJoinThePoolsOfTheirCapabilityAndRemovedOnesLeave() async throws {
        let upstream = try await FakeUpstream.start()
        // Its own transport: other suites shut the process-wide one down.
        let transport = HTTPTransport()
        defer { Task { try? await transport.shutdown() } }
        let recorder = RecordingConnector()
        let yaml = Self.yaml(
            upstream: upstream,
            sync: """
                {auto_register: true, on_deprecated_model: remove,
                       capabilities: [{match: "beta-*", capabilities: [chat-completion]}, {match: "*-embed", capabilities: [text-embeddings]}]}
                """)
        let mesh = try Mesh(yaml: yaml, providers: .builtIn(transport: transport), connectors: [recorder])
        defer { Task { await mesh.shutdown() } }
        #expect(members(mesh) == ["acme.alpha"])

        upstream.setDefault(Self.listing(["alpha", "beta-1", "tiny-embed", "zeta"]), for: "/v1/models")
        let first = await mesh.syncDiscovery()
        #expect(first.count == 1)
        #expect(first.first?.new == ["beta-1", "tiny-embed", "zeta"])
        #expect(first.first?.registered.sorted() == ["acme.beta-1", "acme.tiny-embed"])
        // Nothing says what zeta serves: reported, not registered.
        #expect(first.first?.unregistered == ["zeta"])
        #expect(members(mesh) == ["acme.alpha", "acme.beta-1"])
        #expect(members(mesh, "embed") == ["acme.tiny-embed"])
        let membership = recorder.events(of: .poolMembershipChanged)
        #expect(membership.count == 2)
        #expect(membership.first { $0.poolID == "chat" }?.metadata["added"] == ["acme.beta-1"])
        #expect(membership.first { $0.poolID == "chat" }?.metadata["trigger"] == "discovery")
        #expect(membership.first { $0.poolID == "embed" }?.metadata["added"] == ["acme.tiny-embed"])
        let updated = recorder.events(of: .discoveryModelsUpdated)
        #expect(updated.count == 1)
        #expect(updated.first?.metadata["registered"] == ["acme.beta-1", "acme.tiny-embed"])

        // A registered model serves requests under its wire name.
        upstream.enqueue(.openAIChatCompletion(content: "from beta"), for: "/v1/chat/completions")
        let routed = try await mesh.route(ChatCompletionRequest(model: "acme.beta-1", messages: [.user("hi")]))
        #expect(routed.modelID == "acme.beta-1")
        #expect(upstream.requests(to: "/v1/chat/completions").last?.json?["model"] == "beta-1")

        // alpha (configured) and beta-1 (registered) disappear: removed from the pool.
        recorder.clear()
        upstream.setDefault(Self.listing(["tiny-embed", "zeta"]), for: "/v1/models")
        let second = await mesh.syncDiscovery()
        #expect(second.first?.deprecated == ["alpha", "beta-1"])
        #expect(second.first?.retired.sorted() == ["acme.alpha", "acme.beta-1"])
        #expect(members(mesh).isEmpty)
        #expect(recorder.events(of: .poolMembershipChanged).map(\.poolID) == ["chat"])
        #expect(recorder.events(of: .poolMembershipChanged).first?.metadata["removed"] == ["acme.alpha", "acme.beta-1"])

        // Listed again: both come back.
        upstream.setDefault(Self.listing(["alpha", "beta-1", "tiny-embed", "zeta"]), for: "/v1/models")
        let third = await mesh.syncDiscovery()
        #expect(third.first?.new == ["alpha", "beta-1"])
        #expect(third.first?.registered.sorted() == ["acme.alpha", "acme.beta-1"])
        #expect(Set(members(mesh)) == ["acme.alpha", "acme.beta-1"])

        // A reload of the same file keeps what discovery registered.
        try mesh.reload(try ConfigurationLoader.parse(yaml: yaml))
        #expect(Set(members(mesh)) == ["acme.alpha", "acme.beta-1"])
        #expect(members(mesh, "embed") == ["acme.tiny-embed"])
        try await upstream.shutdown()
    }

    @Test func deprecatedModelsAreDeactivatedUntilListedAgain() async throws {
        let upstream = try await FakeUpstream.start()
        // Its own transport: other suites shut the process-wide one down.
        let transport = HTTPTransport()
        defer { Task { try? await transport.shutdown() } }
        let recorder = RecordingConnector()
        let mesh = try Mesh(
            yaml: Self.yaml(upstream: upstream, sync: "{on_deprecated_model: deactivate}"), providers: .builtIn(transport: transport),
            connectors: [recorder])
        defer { Task { await mesh.shutdown() } }
        upstream.setDefault(Self.listing(["gpt-new"]), for: "/v1/models")
        let change = await mesh.syncDiscovery()
        // auto_register is off: the new model is only reported.
        #expect(change.first?.new == ["gpt-new"])
        #expect(change.first?.registered.isEmpty == true)
        #expect(change.first?.retired == ["acme.alpha"])
        let member = mesh.describe().pools.first { $0.id == "chat" }?.members.first
        #expect(member?.modelID == "acme.alpha")
        #expect(member?.state == .standby)
        #expect(member?.reason == "deprecated")
        #expect(recorder.events(of: .modelDeactivated).first?.metadata["reason"] == "deprecated")
        await #expect(throws: ModelMeshError.self) {
            try await mesh.route(ChatCompletionRequest(model: "chat", messages: [.user("hi")]))
        }

        upstream.setDefault(Self.listing(["alpha", "gpt-new"]), for: "/v1/models")
        await mesh.syncDiscovery()
        #expect(mesh.describe().pools.first { $0.id == "chat" }?.members.first?.state == .active)
        #expect(recorder.events(of: .modelActivated).last?.metadata["trigger"] == "discovery")
        try await upstream.shutdown()
    }

    @Test func onlyTheListedProvidersAreSynced() async throws {
        let acme = try await FakeUpstream.start()
        let other = try await FakeUpstream.start()
        let transport = HTTPTransport()
        defer { Task { try? await transport.shutdown() } }
        let mesh = try Mesh(
            yaml: Self.yaml(upstream: acme, sync: "{providers: [other], auto_register: true}", second: other),
            providers: .builtIn(transport: transport))
        defer { Task { await mesh.shutdown() } }
        acme.setDefault(Self.listing(["alpha", "gpt-4o"]), for: "/v1/models")
        other.setDefault(Self.listing(["gpt-4o"]), for: "/v1/models")
        let changes = await mesh.syncDiscovery()
        #expect(changes.map(\.providerID) == ["other"])
        #expect(acme.requests(to: "/v1/models").isEmpty)
        try await acme.shutdown()
        try await other.shutdown()
    }

    @Test func validateRejectsUnknownSyncSettings() {
        let issues = ConfigurationLoader.validate(
            yaml: """
                providers: {acme: {connector: openai-compatible.llm.v1, base_url: "http://127.0.0.1:9/v1"}}
                discovery:
                  sync:
                    providers: [acme, nobody]
                    on_deprecated_model: archive
                    on_new_model: notify
                    auto_register: true
                    capabilities: [{match: "x-*"}]
                """)
        #expect(issues.contains { $0.path == "discovery.sync.providers[1]" && $0.message.contains("nobody") })
        #expect(issues.contains { $0.path == "discovery.sync.on_deprecated_model" })
        #expect(issues.contains { $0.path == "discovery.sync.on_new_model" && $0.message.contains("contradicts") })
        #expect(issues.contains { $0.path == "discovery.sync.capabilities[0]" })
    }

    @Test func theReadmeExampleValidates() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let section = try #require(text.range(of: "### Discovery that changes pools\n"))
        let start = try #require(text.range(of: "```yaml\n", range: section.upperBound..<text.endIndex))
        let end = try #require(text.range(of: "\n```", range: start.upperBound..<text.endIndex))
        let yaml = "providers: {local: {connector: openai-compatible.llm.v1, base_url: \"http://127.0.0.1:9/v1\"}}\n"
            + text[start.upperBound..<end.lowerBound]
        let configuration = try ConfigurationLoader.parse(yaml: yaml)
        #expect(configuration.discovery.autoRegister)
        #expect(configuration.discovery.onDeprecatedModel == .deactivate)
        #expect(configuration.discovery.capabilityRules.count == 2)
        #expect(configuration.discovery.capabilityRules.last?.provider == "local")
    }

    @Test func capabilityRulePatterns() {
        let rule = DiscoveryCapabilityRule(match: "gpt-*-mini", capabilities: [])
        #expect(rule.matches("gpt-4o-mini"))
        #expect(!rule.matches("gpt-4o"))
        #expect(DiscoveryCapabilityRule(match: "*", capabilities: []).matches("anything"))
        #expect(DiscoveryCapabilityRule(match: "exact", capabilities: []).matches("exact"))
        #expect(!DiscoveryCapabilityRule(match: "exact", capabilities: []).matches("exactly"))
    }
}

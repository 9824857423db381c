import Foundation
import ModelMesh
import ModelMeshProviders
import Testing

@Suite("Built-in providers table")
struct BuiltInProvidersTests {
    static let defaultBaseURLs: [(String, String)] = [
        ("openai.llm.v1", "https://api.openai.com/v1"),
        ("groq.api.v1", "https://api.groq.com/openai/v1"),
        ("deepseek.api.v1", "https://api.deepseek.com/v1"),
        ("mistral.api.v1", "https://api.mistral.ai/v1"),
        ("together.api.v1", "https://api.together.xyz/v1"),
        ("openrouter.gateway.v1", "https://openrouter.ai/api/v1"),
        ("xai.grok.v1", "https://api.x.ai/v1"),
        ("perplexity.search.v1", "https://api.perplexity.ai"),
        ("ollama.local.v1", "http://localhost:11434/v1"),
        ("vllm.local.v1", "http://localhost:8000/v1"),
        ("lmstudio.local.v1", "http://localhost:1234/v1"),
        ("localai.local.v1", "http://localhost:8080/v1"),
    ]

    @Test("Each family member gets its default base URL", arguments: defaultBaseURLs)
    func defaultBaseURL(_ connector: String, _ expected: String) async throws {
        let transport = HTTPTransport()
        let made = try BuiltInProviders.make(ProviderConfiguration(id: "p", connector: connector), transport: transport)
        let provider = try #require(made as? OpenAICompatibleProvider)
        try await transport.shutdown()
        #expect(provider.baseURL == expected)
        #expect(provider.vendor.connectorID == connector)
        #expect(provider.chatCompletionsURL == expected + "/chat/completions")
    }

    @Test("Connector IDs cover the family; long forms are accepted; unknown ones give nil")
    func connectorIDs() async throws {
        #expect(BuiltInProviders.connectorIDs.isSuperset(of: Set(Self.defaultBaseURLs.map(\.0))))
        #expect(BuiltInProviders.connectorIDs.contains("openai-compatible.llm.v1"))
        #expect(BuiltInProviders.connectorIDs.isSubset(of: ConnectorID.providerConnectors))
        let transport = HTTPTransport()
        let long = try BuiltInProviders.make(
            ProviderConfiguration(id: "o", connector: "provider.openai.llm.v1"), transport: transport)
        let unknown = try BuiltInProviders.make(
            ProviderConfiguration(id: "x", connector: "acme.unknown.v1"), transport: transport)
        try await transport.shutdown()
        #expect(long is OpenAICompatibleProvider)
        #expect(unknown == nil)
    }

    @Test("The generic connector needs a base_url; a malformed one is refused")
    func setupErrors() async throws {
        let transport = HTTPTransport()
        let missing = #expect(throws: ProviderSetupError.self) {
            try BuiltInProviders.make(
                ProviderConfiguration(id: "custom", connector: "openai-compatible.llm.v1"), transport: transport)
        }
        let malformed = #expect(throws: ProviderSetupError.self) {
            try BuiltInProviders.make(
                ProviderConfiguration(id: "bad", connector: "openai.llm.v1", baseURL: "localhost:8000"),
                transport: transport)
        }
        let custom =
            try BuiltInProviders.make(
                ProviderConfiguration(
                    id: "custom", connector: "openai-compatible.llm.v1", baseURL: "http://10.0.0.5:9000"),
                transport: transport) as? OpenAICompatibleProvider
        try await transport.shutdown()
        #expect(missing?.code == "missing_base_url")
        #expect(missing?.providerID == "custom")
        #expect(malformed?.code == "invalid_base_url")
        #expect(custom?.baseURL == "http://10.0.0.5:9000/v1")
    }

    @Test("Default pricing from the vendor table, per million tokens")
    func defaultPricing() throws {
        let gpt4o = try #require(BuiltInProviders.defaultPricing(connector: "openai.llm.v1", wireName: "gpt-4o"))
        #expect(gpt4o.inputPerMillion == 2.5)
        #expect(gpt4o.outputPerMillion == 10)
        let deepseek = try #require(
            BuiltInProviders.defaultPricing(connector: "deepseek.api.v1", wireName: "deepseek-chat"))
        #expect(abs(deepseek.cost(inputTokens: 1_000_000, outputTokens: 1_000_000) - 0.42) < 1e-12)
        #expect(BuiltInProviders.defaultPricing(connector: "openai.llm.v1", wireName: "gpt-unknown") == nil)
        #expect(BuiltInProviders.defaultPricing(connector: "acme.v1", wireName: "gpt-4o") == nil)
        #expect(BuiltInProviders.defaultModel(connector: "xai.grok.v1", wireName: "grok-2")?.contextWindow == 128_000)
    }

    @Test("The timeout comes from the configuration, else the vendor default")
    func timeouts() async throws {
        let transport = HTTPTransport()
        let configured = try OpenAICompatibleProvider(
            configuration: ProviderConfiguration(id: "a", connector: "groq.api.v1", timeout: .seconds(12)),
            transport: transport)
        let defaulted = try OpenAICompatibleProvider(
            configuration: ProviderConfiguration(id: "b", connector: "groq.api.v1"), transport: transport)
        try await transport.shutdown()
        #expect(configured.timeout == .seconds(12))
        #expect(configured.streamIdleTimeout == .seconds(12))
        #expect(defaulted.timeout == .seconds(60))
    }
}

import Foundation
import ModelMesh
import ModelMeshProviders
import ModelMeshTesting
import Testing

@Suite("Built-in provider registry, defaults and auto-detection")
struct BuiltInProvidersRegistryTests {
    @Test("make covers Anthropic (and its alias, long form) and Gemini")
    func makeVendors() async throws {
        let transport = HTTPTransport()
        let claude = try BuiltInProviders.make(
            ProviderConfiguration(id: "anthropic", connector: "anthropic.claude.v1"), transport: transport)
        let alias = try BuiltInProviders.make(
            ProviderConfiguration(id: "a2", connector: "anthropic.llm.v1"), transport: transport)
        let long = try BuiltInProviders.make(
            ProviderConfiguration(id: "a3", connector: "provider.anthropic.claude.v1"), transport: transport)
        let gemini = try BuiltInProviders.make(
            ProviderConfiguration(id: "google", connector: "google.gemini.v1"), transport: transport)
        try await transport.shutdown()
        #expect((claude as? AnthropicProvider)?.baseURL == "https://api.anthropic.com")
        #expect(alias is AnthropicProvider)
        #expect(long is AnthropicProvider)
        #expect((gemini as? GeminiProvider)?.baseURL == "https://generativelanguage.googleapis.com")
        #expect(
            BuiltInProviders.connectorIDs.isSuperset(of: [
                "anthropic.claude.v1", "anthropic.llm.v1", "google.gemini.v1",
            ]))
        // Every provider connector the configuration accepts is built, except the simulated one.
        #expect(ConnectorID.providerConnectors.subtracting(BuiltInProviders.connectorIDs) == ["modelmesh.simulated.v1"])
    }

    @Test("The registry builds every built-in connector ID")
    func registryBuildsEverything() async throws {
        let transport = HTTPTransport()
        let registry = ProviderRegistry.builtIn(transport: transport)
        #expect(registry.connectorIDs == BuiltInProviders.connectorIDs)
        for connector in BuiltInProviders.connectorIDs.sorted() {
            let configuration = ProviderConfiguration(
                id: "p", connector: connector,
                baseURL: connector == "openai-compatible.llm.v1" ? "http://10.0.0.1" : nil)
            _ = try registry.make(configuration)
        }
        let bad = #expect(throws: ProviderSetupError.self) {
            try registry.make(ProviderConfiguration(id: "g", connector: "google.gemini.v1", baseURL: "ftp://x"))
        }
        #expect(bad?.code == "invalid_base_url")
        try await transport.shutdown()
    }

    @Test("Default pricing and models cover Anthropic and Gemini")
    func vendorTables() throws {
        let sonnet = try #require(
            BuiltInProviders.defaultPricing(connector: "anthropic.claude.v1", wireName: "claude-sonnet-4-20250514"))
        #expect(sonnet.inputPerMillion == 3)
        #expect(sonnet.outputPerMillion == 15)
        #expect(
            BuiltInProviders.defaultPricing(connector: "anthropic.llm.v1", wireName: "claude-haiku-4-5-20251001")?
                .inputPerMillion == 1)
        let flash = try #require(
            BuiltInProviders.defaultModel(connector: "google.gemini.v1", wireName: "models/gemini-2.0-flash"))
        #expect(flash.pricing?.outputPerMillion == 0.40)
        #expect(flash.contextWindow == 1_048_576)
        #expect(flash.features.contains(.toolCalling))
        #expect(
            BuiltInProviders.defaultModel(connector: "anthropic.claude.v1", wireName: "claude-sonnet-4-20250514")?
                .features.contains(.prefill) == true)
        #expect(BuiltInProviders.defaultPricing(connector: "google.gemini.v1", wireName: "gemini-9") == nil)
        #expect(
            BuiltInProviders.defaultModels(connector: "google.gemini.v1", providerID: "g").map(\.id).contains(
                "g.gemini-2.0-flash"))
    }

    @Test("applyDefaults fills missing pricing, window, output limit and features, and keeps what is set")
    func applyDefaults() {
        var configuration = MeshConfiguration()
        configuration.providers = [
            ProviderConfiguration(id: "claude", connector: "anthropic.claude.v1"),
            ProviderConfiguration(id: "gem", connector: "google.gemini.v1"),
            ProviderConfiguration(id: "local", connector: "ollama.local.v1"),
        ]
        configuration.models = [
            ModelConfiguration(id: "claude.claude-sonnet-4-20250514", provider: "claude"),
            ModelConfiguration(
                id: "gem.flash", name: "gemini-2.0-flash", provider: "gem", features: [.systemPrompt],
                contextWindow: 32_000,
                pricing: ModelPricing(inputPerMillion: 9, outputPerMillion: 9)),
            ModelConfiguration(id: "local.mystery", provider: "local"),
        ]
        let filled = BuiltInProviders.applyDefaults(to: &configuration)
        #expect(filled == ["claude.claude-sonnet-4-20250514", "gem.flash"])
        let claude = configuration.models[0]
        #expect(claude.pricing?.inputPerMillion == 3)
        #expect(claude.contextWindow == 200_000)
        #expect(claude.maxOutputTokens == 16_384)
        #expect(claude.features.contains(.prefill))
        let gem = configuration.models[1]
        #expect(gem.pricing?.inputPerMillion == 9)
        #expect(gem.contextWindow == 32_000)
        #expect(gem.features == [.systemPrompt])
        #expect(gem.maxOutputTokens == 8_192)
        #expect(configuration.models[2].pricing == nil)
    }

    @Test("Auto-detected OpenAI, pointed at a fake, answers through Mesh.autodetected")
    func autodetectedOpenAI() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.openAIChatCompletion(content: "detected"), for: "/v1/chat/completions")
            let registry = ProviderRegistry.builtIn(transport: h.transport, baseURLs: ["openai": h.fake.url("/v1")])
            let mesh = try Mesh.autodetected(providers: registry, environment: ["OPENAI_API_KEY": Harness.apiKey])
            let answer = try await mesh.route(Harness.request(model: "chat-completion"))
            #expect(answer.value.text == "detected")
            #expect(answer.providerID == "openai")
            #expect(answer.modelID == "openai.gpt-4o")
            let recorded = try #require(h.fake.lastRequest)
            #expect(recorded.header("authorization") == "Bearer \(Harness.apiKey)")
            #expect(recorded.json?["model"] == "gpt-4o")
        }
    }

    @Test("OLLAMA_HOST with and without a scheme becomes a base URL with /v1 appended", arguments: [true, false])
    func autodetectedOllama(_ withScheme: Bool) async throws {
        try await Harness.run { h in
            h.fake.enqueue(.openAIChatCompletion(content: "local", model: "llama3"), for: "/v1/chat/completions")
            let host = withScheme ? h.fake.baseURL : "127.0.0.1:\(h.fake.port)"
            let mesh = try Mesh.autodetected(
                providers: .builtIn(transport: h.transport), environment: ["OLLAMA_HOST": host])
            let answer = try await mesh.route(Harness.request(model: "chat-completion"))
            #expect(answer.value.text == "local")
            #expect(answer.modelID == "ollama.llama3")
            #expect(h.fake.lastRequest?.path == "/v1/chat/completions")
            #expect(h.fake.lastRequest?.header("authorization") == nil)
            #expect(h.fake.lastRequest?.json?["model"] == "llama3")
        }
    }

    @Test("autodetectedConfiguration reads <PROVIDER>_BASE_URL and fills default pricing; Anthropic and Gemini answer")
    func autodetectedConfiguration() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .anthropicMessage(text: "claude here", inputTokens: 1_000_000, outputTokens: 0), for: "/v1/messages")
            h.fake.enqueue(
                .geminiResponse(text: "gemini here", promptTokens: 1_000_000, candidatesTokens: 0),
                for: "/v1beta/models/gemini-2.0-flash:generateContent")
            var configuration = try #require(
                BuiltInProviders.autodetectedConfiguration(environment: [
                    "ANTHROPIC_API_KEY": Harness.apiKey, "ANTHROPIC_BASE_URL": h.fake.baseURL,
                    "GEMINI_API_KEY": "gm-key-0123456789", "GEMINI_BASE_URL": h.fake.baseURL,
                ]))
            #expect(configuration.providers.map(\.id) == ["anthropic", "google"])
            #expect(configuration.providers.allSatisfy { $0.baseURL == h.fake.baseURL })
            let flash = try #require(configuration.models.first { $0.id == "google.gemini-2.0-flash" })
            #expect(flash.pricing?.inputPerMillion == 0.10)
            configuration.observability.connectors = []
            let recorder = RecordingConnector()
            let mesh = try Mesh(
                configuration: configuration, providers: .builtIn(transport: h.transport), connectors: [recorder])

            let claude = try await mesh.route(Harness.request(model: "anthropic.claude-sonnet-4-20250514"))
            #expect(claude.value.text == "claude here")
            #expect(h.fake.lastRequest?.header("x-api-key") == Harness.apiKey)
            let gemini = try await mesh.route(Harness.request(model: "google.gemini-2.0-flash"))
            #expect(gemini.value.text == "gemini here")
            #expect(h.fake.lastRequest?.query == "key=gm-key-0123456789")
            // One million input tokens at the default $0.10/M.
            let cost = try #require(recorder.logs.last?.cost)
            #expect(abs(cost - 0.10) < 1e-9)
        }
    }

    @Test("The shared transport is created once, shut down on request, and recreated on next use")
    func sharedTransport() async throws {
        let fake = try await FakeUpstream.start()
        fake.setDefault(.openAIChatCompletion(content: "shared"), for: "/v1/chat/completions")
        let first = BuiltInProviders.sharedTransport
        #expect(BuiltInProviders.sharedTransport === first)
        let provider = try ProviderRegistry.builtIn.make(
            ProviderConfiguration(id: "o", connector: "openai.llm.v1", baseURL: fake.url("/v1")))
        let answer = try await provider.complete(Harness.request(), target: Harness.target, context: Harness.context())
        #expect(answer.completion.text == "shared")

        try await BuiltInProviders.shutdown()
        #expect(BuiltInProviders.sharedTransport !== first)
        let again = try ProviderRegistry.builtIn.make(
            ProviderConfiguration(id: "o", connector: "openai.llm.v1", baseURL: fake.url("/v1")))
        #expect(
            try await again.complete(Harness.request(), target: Harness.target, context: Harness.context()).completion
                .text == "shared")
        try await BuiltInProviders.shutdown()
        try await fake.shutdown()
    }
}

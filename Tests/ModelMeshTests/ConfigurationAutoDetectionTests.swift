import Testing

@testable import ModelMesh

@Suite struct ConfigurationAutoDetectionTests {
    @Test func nothingDetectedIsNil() {
        #expect(ProviderAutoDetection.configuration(environment: [:]) == nil)
        #expect(ProviderAutoDetection.configuration(environment: ["OPENAI_API_KEY": "  ", "PATH": "/bin"]) == nil)
    }

    @Test func cloudAndLocalProvidersInRegistryOrder() throws {
        let env = [
            "OLLAMA_HOST": "127.0.0.1:11434", "ANTHROPIC_API_KEY": "sk-ant", "OPENAI_API_KEY": "sk-oai",
            "GEMINI_API_KEY": "g-key", "VLLM_HOST": "http://gpu:8000/v1",
        ]
        let config = try #require(ProviderAutoDetection.configuration(environment: env))

        #expect(config.providers.map(\.id) == ["openai", "anthropic", "google", "ollama", "vllm"])
        #expect(
            config.providers.map(\.connector) == [
                "openai.llm.v1", "anthropic.claude.v1", "google.gemini.v1", "ollama.local.v1", "vllm.local.v1",
            ])
        let openai = config.providers[0]
        #expect(openai.apiKey?.value == "sk-oai")
        #expect(openai.baseURL == nil)
        #expect(config.providers[2].apiKey?.value == "g-key")
        let ollama = config.providers[3]
        #expect(ollama.baseURL == "http://127.0.0.1:11434")
        #expect(ollama.apiKey == nil)
        #expect(config.providers[4].baseURL == "http://gpu:8000/v1")

        #expect(
            config.models.map(\.id) == [
                "openai.gpt-4o", "openai.gpt-4o-mini", "anthropic.claude-sonnet-4-20250514",
                "anthropic.claude-haiku-4-5-20251001", "google.gemini-2.0-flash", "google.gemini-2.0-flash-lite",
                "ollama.llama3",
            ])
        let gpt4o = config.models[0]
        #expect(gpt4o.provider == "openai")
        #expect(gpt4o.name == "gpt-4o")
        #expect(gpt4o.capabilities == ["generation.text-generation.chat-completion"])
        #expect(gpt4o.contextWindow == 128_000)
        #expect(gpt4o.maxOutputTokens == 16_384)
        #expect(abs((gpt4o.pricing?.inputPerMillion ?? 0) - 2.5) < 1e-9)
        #expect(abs((gpt4o.pricing?.outputPerMillion ?? 0) - 10) < 1e-9)
        let haiku = config.models[3]
        #expect(haiku.maxOutputTokens == 8192)
        #expect(abs((haiku.pricing?.inputPerMillion ?? 0) - 1) < 1e-9)
        #expect(config.models[4].pricing == nil)
        #expect(config.models[4].contextWindow == 1_048_576)
        #expect(config.models[6].provider == "ollama")

        #expect(config.pools.count == 1)
        let pool = config.pools[0]
        #expect(pool.id == "chat-completion")
        #expect(pool.capability == "generation.text-generation.chat-completion")
        #expect(pool.strategy == "modelmesh.stick-until-failure.v1")
    }

    @Test func everyDocumentedVariableIsDetected() {
        let variables = [
            "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "GROQ_API_KEY", "MISTRAL_API_KEY",
            "TOGETHER_API_KEY", "OPENROUTER_API_KEY", "DEEPSEEK_API_KEY", "XAI_API_KEY", "PERPLEXITY_API_KEY",
            "OLLAMA_HOST", "LMSTUDIO_HOST", "VLLM_HOST", "LOCALAI_HOST",
        ]
        let env = Dictionary(uniqueKeysWithValues: variables.map { ($0, "value") })
        let providers = ProviderAutoDetection.detect(environment: env)
        #expect(
            providers.map(\.connector) == [
                "openai.llm.v1", "anthropic.claude.v1", "google.gemini.v1", "groq.api.v1", "mistral.api.v1",
                "together.api.v1", "openrouter.gateway.v1", "deepseek.api.v1", "xai.grok.v1", "perplexity.search.v1",
                "ollama.local.v1", "lmstudio.local.v1", "vllm.local.v1", "localai.local.v1",
            ])
        for provider in providers {
            #expect(ConnectorID.providerConnectors.contains(provider.connector))
        }
        // Every default model's provider is a detected provider.
        let config = ProviderAutoDetection.configuration(environment: env)
        let ids = Set(providers.map(\.id))
        #expect(config?.models.allSatisfy { ids.contains($0.provider) } == true)
        #expect(config?.models.first { $0.id == "deepseek.deepseek-chat" }?.pricing?.inputPerMillion == 0.14)
    }

    @Test func vendorNamesWorkAsProviderIdsInYAML() throws {
        let config = try ConfigurationLoader.parse(
            yaml: "providers:\n  gemini: {api_key: k}\n  groq: {api_key: k}", environment: [:])
        #expect(config.providers.map(\.connector) == ["google.gemini.v1", "groq.api.v1"])
    }
}

import Foundation
import Testing

@testable import ModelMesh

@Suite struct ConfigurationLoaderTests {
    /// An annotated configuration touching every section.
    static let fullExample = """
        # Secrets come from the environment unless a store is configured.
        secrets:
          store: secret-store.modelmesh.env.v1   # long form: the type prefix is stripped
          fail_on_missing: true

        providers:
          openai-primary:                 # any id; two providers may share a connector
            connector: openai.llm.v1
            api_key: ${secrets:OPENAI_API_KEY}
            timeout: 45s
            headers:
              X-Team: platform
            organization: org-42          # connector-specific, kept as a setting
            budget: {daily_limit: 5, monthly: 50}
          openai-backup:
            connector: provider.openai.llm.v1
            config:                       # nested config merges with flat keys, config wins
              api_key: ${BACKUP_KEY}
              base_url: https://backup.example.com/v1
            base_url: https://ignored.example.com/v1
          anthropic.claude.v1:            # connector defaults to the map key
            api_key: ${secrets:ANTHROPIC_API_KEY}
            enabled: false
          ollama:                         # a vendor name maps to its connector
            base_url: http://localhost:11434/v1

        models:
          openai.gpt-4o:
            provider: openai-primary
            capabilities: [chat-completion, generation.text-generation.code-generation]
            features: {tool_calling: true, vision: true, json_mode: false}
            constraints: {context_window: 128000, max_output_tokens: 16384}
            pricing: {input_per_1m: 2.5, output_per_1m: 10, cached_input_per_1m: 1.25}
          openai.gpt-4o-mini:
            provider: openai-backup
            name: gpt-4o-mini-2024-07-18  # wire name override
            capabilities: [chat]
            delivery: {streaming: false}
            pricing: {input_per_1k_tokens: 0.00015, output_per_1k_tokens: 0.0006, per_request: 0.001}
          anthropic.claude-sonnet-4:
            provider: anthropic.claude.v1
            capabilities: [chat-completion, custom.vendor.reasoning]   # open tree: unknown dotted path kept
            features: [tool_calling, prefill]
            context_window: 200000
          ollama.llama3:
            provider: ollama
            capabilities: [text-embeddings]

        pools:
          chat:
            capability: chat-completion
            strategy: cost-first
            retry:
              max_attempts: 2
              backoff: fixed
              initial_delay: 250ms
              max_delay: 2s
              timeout: 1m
              honor_retry_after: false
              retryable_codes: [429, 503]
              scope: same_provider
            deactivation:
              retry_limit: 4
              error_rate_threshold: 0.25
              error_rate_window: 10
              error_codes: [429, 503]
              request_limit: 1000
              token_limit: 500000
              budget_limit: 2.5
            recovery:
              cooldown: 30s
              max_cooldown: 10m
              backoff_multiplier: 3
              probe_interval: 5m
              probe_on_start: true
              announce_on_start: true
            stream:
              first_token_timeout: 20s
              idle_timeout: 1.5s
              mid_stream: fail
            budget: {daily: 1, per_request: 0.05, alert_threshold: 0.9, enforce: false}
          fast:
            models: [openai.gpt-4o-mini, openai.gpt-4o]
            rotation:                     # the nested per-connector spelling
              policy: rotation.modelmesh.priority-selection.v1
              deactivation: {retry_limit: 7}
              recovery: {cooldown: 2m}
              selection:
                model_priority: [openai.gpt-4o]
            failure_threshold: 2          # flat spelling wins over rotation.deactivation.retry_limit
            cooldown_seconds: 15
          sticky:
            capability: chat
            rotation: {policy: session-stickiness, selection: {session_timeout: 10m}}
          headroom:
            capability: chat
            strategy: rate-limit-aware
            rate_limit: {threshold: 0.7, max_rpm: 60}
          text-embeddings: {}             # no capability, no models: the id is the capability

        storage:
          connector: modelmesh.local-file.v1
          path: ./state.json
          sync_policy: periodic
          sync_interval: 2m

        observability:
          routing:
            connector: modelmesh.local-file.v1
            path: ./events.jsonl
            events: [model_deactivated, recovery]
          connectors:
            - connector: modelmesh.webhook.v1
              url: https://hooks.example.com/mesh
              headers: {Authorization: "Bearer ${secrets:HOOK_TOKEN}"}
              events: {filter: [rotation, health]}
          logging: {level: summary, redact_secrets: true, max_payload_size: 8KB}
          statistics: {flush_interval: 30s}
          tracing: {min_severity: warning}

        discovery:
          sync: {interval: 2h}
          health: {interval: 30s, failure_threshold: 5}

        proxy:
          host: 0.0.0.0
          port: 9090
          auth:
            method: bearer
            tokens: ["${secrets:PROXY_TOKEN}", static-token]   # quote references inside [ ]
          cors: {origins: ["https://app.example.com"]}
          body_limit: 20MB
          endpoints: [/v1/chat/completions]
          rate_limit: {requests_per_minute: 600, burst: 50}
          shutdown_timeout: 15s

        budget:
          daily_limit: 20
          monthly_limit: 200
          per_request_limit: 0.5
          alert_threshold: 0.75
        """

    static let environment = [
        "OPENAI_API_KEY": "sk-primary", "BACKUP_KEY": "sk-backup", "ANTHROPIC_API_KEY": "sk-ant",
        "HOOK_TOKEN": "hook-secret", "PROXY_TOKEN": "proxy-secret",
    ]

    @Test func fullExampleParsesToTypedValues() throws {
        let config = try ConfigurationLoader.parse(yaml: Self.fullExample, environment: Self.environment)

        #expect(config.secrets.store == "modelmesh.env.v1")

        #expect(config.providers.map(\.id) == ["openai-primary", "openai-backup", "anthropic.claude.v1", "ollama"])
        let primary = config.providers[0]
        #expect(primary.connector == "openai.llm.v1")
        #expect(primary.apiKey?.value == "sk-primary")
        #expect(primary.timeout == .seconds(45))
        #expect(primary.headers["X-Team"]?.value == "platform")
        #expect(primary.settings["organization"] == .string("org-42"))
        #expect(primary.budget?.daily == 5)
        #expect(primary.budget?.monthly == 50)
        #expect(primary.enabled)
        let backup = config.providers[1]
        #expect(backup.connector == "openai.llm.v1")
        #expect(backup.apiKey?.value == "sk-backup")
        #expect(backup.baseURL == "https://backup.example.com/v1")
        #expect(config.providers[2].connector == "anthropic.claude.v1")
        #expect(config.providers[2].enabled == false)
        #expect(config.providers[3].connector == "ollama.local.v1")

        #expect(
            config.models.map(\.id) == [
                "openai.gpt-4o", "openai.gpt-4o-mini", "anthropic.claude-sonnet-4", "ollama.llama3",
            ])
        let gpt4o = config.models[0]
        #expect(gpt4o.name == "gpt-4o")
        #expect(
            gpt4o.capabilities == [
                "generation.text-generation.chat-completion", "generation.text-generation.code-generation",
            ])
        #expect(gpt4o.features == [.toolCalling, .vision])
        #expect(gpt4o.contextWindow == 128_000)
        #expect(gpt4o.maxOutputTokens == 16_384)
        #expect(gpt4o.pricing == ModelPricing(inputPerMillion: 2.5, outputPerMillion: 10, cachedInputPerMillion: 1.25))
        let mini = config.models[1]
        #expect(mini.name == "gpt-4o-mini-2024-07-18")
        #expect(mini.provider == "openai-backup")
        #expect(mini.delivery == DeliveryModes(synchronous: true, streaming: false, batch: false))
        #expect(abs((mini.pricing?.inputPerMillion ?? 0) - 0.15) < 1e-9)
        #expect(abs((mini.pricing?.outputPerMillion ?? 0) - 0.6) < 1e-9)
        #expect(mini.pricing?.perRequest == 0.001)
        let sonnet = config.models[2]
        #expect(sonnet.capabilities == ["generation.text-generation.chat-completion", "custom.vendor.reasoning"])
        #expect(sonnet.features == [.toolCalling, .prefill])
        #expect(sonnet.contextWindow == 200_000)
        #expect(config.models[3].capabilities == ["representation.embeddings.text-embeddings"])

        #expect(config.pools.map(\.id) == ["chat", "fast", "sticky", "headroom", "text-embeddings"])
        let chat = config.pools[0]
        #expect(chat.capability == "generation.text-generation.chat-completion")
        #expect(chat.models == nil)
        #expect(chat.strategy == "modelmesh.cost-first.v1")
        #expect(chat.retry.maxAttempts == 2)
        #expect(chat.retry.backoff == .fixed)
        #expect(chat.retry.initialDelay == .milliseconds(250))
        #expect(chat.retry.maxDelay == .seconds(2))
        #expect(chat.retry.timeout == .seconds(60))
        #expect(chat.retry.honorRetryAfter == false)
        #expect(chat.deactivation.retryLimit == 4)
        #expect(chat.deactivation.errorRateThreshold == 0.25)
        #expect(chat.deactivation.errorRateWindow == 10)
        #expect(chat.deactivation.errorCodes == [429, 503])
        #expect(chat.deactivation.requestLimit == 1000)
        #expect(chat.deactivation.tokenLimit == 500_000)
        #expect(chat.deactivation.budgetLimit == 2.5)
        #expect(chat.recovery.cooldown == .seconds(30))
        #expect(chat.recovery.maxCooldown == .seconds(600))
        #expect(chat.recovery.backoffMultiplier == 3)
        #expect(chat.recovery.probeInterval == .seconds(300))
        #expect(chat.recovery.announceOnStart)
        #expect(chat.recovery.probeOnStart)
        #expect(chat.retry.retryableCodes == [429, 503])
        #expect(chat.retry.nonRetryableCodes == [400, 401, 403])
        #expect(chat.retry.scope == .sameProvider)
        #expect(chat.stream.firstTokenTimeout == .seconds(20))
        #expect(chat.stream.idleTimeout == .milliseconds(1500))
        #expect(chat.stream.midStream == .fail)
        #expect(chat.budget?.daily == 1)
        #expect(chat.budget?.perRequest == 0.05)
        #expect(chat.budget?.alertThreshold == 0.9)
        #expect(chat.budget?.enforce == false)

        let fast = config.pools[1]
        #expect(fast.models == ["openai.gpt-4o-mini", "openai.gpt-4o"])
        #expect(fast.capability == nil)
        #expect(fast.strategy == "modelmesh.priority-selection.v1")
        #expect(fast.deactivation.retryLimit == 2)
        #expect(fast.recovery.cooldown == .seconds(15))
        #expect(fast.modelPriority == ["openai.gpt-4o"])
        #expect(config.pools[2].sessionTimeout == .seconds(600))
        #expect(config.pools[3].rateLimit.threshold == 0.7)
        #expect(config.pools[3].rateLimit.maxRequestsPerMinute == 60)
        #expect(config.pools[4].capability == "representation.embeddings.text-embeddings")
        #expect(config.pools[4].strategy == "modelmesh.stick-until-failure.v1")

        #expect(config.storage.connector == "modelmesh.local-file.v1")
        #expect(config.storage.path == "./state.json")
        #expect(config.storage.syncPolicy == .periodic)
        #expect(config.storage.syncInterval == .seconds(120))

        let observability = config.observability
        #expect(observability.connectors.map(\.connector) == ["modelmesh.local-file.v1", "modelmesh.webhook.v1"])
        #expect(observability.connectors[0].events == [.modelDeactivated, .modelActivated, .providerRecovered])
        #expect(observability.connectors[0].settings == ["path": .string("./events.jsonl")])
        #expect(observability.connectors[1].events == [.modelRotated, .providerHealthChanged])
        #expect(observability.connectors[1].settings["url"] == .string("https://hooks.example.com/mesh"))
        #expect(
            observability.connectors[1].settings["headers"] == .object(["Authorization": .string("Bearer hook-secret")])
        )
        #expect(observability.logLevel == .summary)
        #expect(observability.maxPayloadSize == 8192)
        #expect(observability.connectors.map(\.channels) == [[.events], [.events]])
        #expect(observability.statisticsFlushInterval == .seconds(30))
        #expect(observability.traceMinSeverity == .warning)

        #expect(config.discovery.syncEnabled)
        #expect(config.discovery.syncInterval == .seconds(7200))
        #expect(config.discovery.healthEnabled)
        #expect(config.discovery.healthInterval == .seconds(30))
        #expect(config.discovery.healthFailureThreshold == 5)

        #expect(config.proxy.host == "0.0.0.0")
        #expect(config.proxy.port == 9090)
        #expect(config.proxy.tokens.map(\.value) == ["proxy-secret", "static-token"])
        #expect(config.proxy.corsOrigins == ["https://app.example.com"])
        #expect(config.proxy.bodyLimit == 20 * 1024 * 1024)
        #expect(config.proxy.endpoints == ["/v1/chat/completions"])
        #expect(config.proxy.rateLimitPerMinute == 600)
        #expect(config.proxy.rateLimitBurst == 50)
        #expect(config.proxy.shutdownTimeout == .seconds(15))

        #expect(config.budget?.daily == 20)
        #expect(config.budget?.monthly == 200)
        #expect(config.budget?.perRequest == 0.5)
        #expect(config.budget?.alertThreshold == 0.75)
        #expect(config.budget?.enforce == true)
    }

    @Test func emptyDocumentIsEmptyConfiguration() throws {
        for text in ["", "# only a comment\n", "---\n"] {
            let config = try ConfigurationLoader.parse(yaml: text, environment: [:])
            #expect(config.providers.isEmpty)
            #expect(config.pools.isEmpty)
            #expect(config.observability.connectors.map(\.connector) == ["modelmesh.console.v1"])
            #expect(config.budget == nil)
        }
    }

    @Test func nullSectionsAreEmpty() throws {
        let config = try ConfigurationLoader.parse(yaml: "providers:\nmodels:\npools:\n", environment: [:])
        #expect(config.providers.isEmpty)
        #expect(config.models.isEmpty)
    }

    @Test func defaultsWhenKeysAreAbsent() throws {
        let yaml = """
            providers:
              openai.llm.v1: {api_key: k}
            models:
              openai.gpt-4o: {provider: openai.llm.v1, capabilities: [chat]}
            pools:
              chat: {capability: chat}
            """
        let config = try ConfigurationLoader.parse(yaml: yaml, environment: [:])
        let pool = try #require(config.pools.first)
        #expect(pool.strategy == "modelmesh.stick-until-failure.v1")
        #expect(pool.retry == RetryPolicy())
        #expect(pool.deactivation == DeactivationPolicy())
        #expect(pool.recovery == RecoveryPolicy())
        #expect(pool.stream == StreamPolicy())
        #expect(config.proxy.port == 8080)
        #expect(config.storage.connector == "modelmesh.memory.v1")
        #expect(config.discovery.syncEnabled == false)
    }

    @Test func providerListFormAndModelProviderInferred() throws {
        let yaml = """
            providers:
              - connector: anthropic.claude.v1
                api_key: k
            models:
              anthropic.claude-haiku:
                capabilities: [chat]
            """
        let config = try ConfigurationLoader.parse(yaml: yaml, environment: [:])
        #expect(config.providers.map(\.id) == ["anthropic.claude.v1"])
        // No `provider:`: the vendor prefix `anthropic` matches the only Anthropic provider.
        #expect(config.models.first?.provider == "anthropic.claude.v1")
    }

    @Test func observabilitySingleConnectorShapes() throws {
        let yaml = """
            observability:
              connector: modelmesh.webhook.v1
              events:
                filter: [deactivation]
              webhook:
                url: https://example.com/hook
                batch_size: 10
            """
        let config = try ConfigurationLoader.parse(yaml: yaml, environment: [:])
        let connector = try #require(config.observability.connectors.first)
        #expect(config.observability.connectors.count == 1)
        #expect(connector.connector == "modelmesh.webhook.v1")
        #expect(connector.events == [.modelDeactivated, .providerDeactivated])
        #expect(connector.settings == ["url": .string("https://example.com/hook"), "batch_size": .int(10)])

        let code = try ConfigurationLoader.parse(
            yaml: "observability: {connector: modelmesh.console.v1, config: {prefix: app}}", environment: [:])
        #expect(code.observability.connectors.map(\.connector) == ["modelmesh.console.v1"])
        #expect(code.observability.connectors.first?.events == nil)
        #expect(code.observability.connectors.first?.settings == ["prefix": .string("app")])
        #expect(code.observability.connectors.first?.channels == Set(ObservabilityChannel.allCases))
    }

    @Test func loggingConnectorReceivesNoEventsAndConsoleStays() throws {
        let yaml = """
            observability:
              logging: {connector: modelmesh.local-file.v1, path: ./requests.jsonl, level: full}
            """
        let config = try ConfigurationLoader.parse(yaml: yaml, environment: [:])
        #expect(
            config.observability.connectors.map(\.connector) == ["modelmesh.console.v1", "modelmesh.local-file.v1"])
        #expect(config.observability.connectors[1].events == [])
        #expect(config.observability.connectors[1].settings == ["path": .string("./requests.jsonl")])
        #expect(config.observability.logLevel == .full)
    }

    @Test func proxyShortSpellings() throws {
        let yaml = """
            proxy:
              tokens: [a, b]
              cors: ["*"]
              body_limit: 1048576
            """
        let config = try ConfigurationLoader.parse(yaml: yaml, environment: [:])
        #expect(config.proxy.tokens.map(\.value) == ["a", "b"])
        #expect(config.proxy.corsOrigins == ["*"])
        #expect(config.proxy.bodyLimit == 1_048_576)
    }

    @Test func yamlMergeKeysApply() throws {
        let yaml = """
            pools:
              base: &base
                capability: chat
                retry: {max_attempts: 5}
              derived:
                <<: *base
                strategy: round-robin
            """
        let config = try ConfigurationLoader.parse(yaml: yaml, environment: [:])
        #expect(config.pools[1].retry.maxAttempts == 5)
        #expect(config.pools[1].strategy == "modelmesh.round-robin.v1")
        #expect(config.pools[1].capability == "generation.text-generation.chat-completion")
    }

    @Test func loadReadsFileAndReportsMissingFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mesh-\(UUID().uuidString).yaml")
        try "pools:\n  chat: {capability: chat}\n".write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let config = try ConfigurationLoader.load(path: url.path, environment: [:])
        #expect(config.pools.map(\.id) == ["chat"])

        let error = #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(path: "/nonexistent/modelmesh.yaml", environment: [:])
        }
        #expect(error?.issues.map(\.kind) == [.fileNotFound])
    }
}

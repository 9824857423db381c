import Testing

@testable import ModelMesh

@Suite struct ConfigurationValidationTests {
    /// Providers and models the error cases build on.
    static let base = """
        providers:
          openai: {api_key: k}
        models:
          openai.gpt-4o: {provider: openai, capabilities: [chat]}

        """

    private func issues(_ yaml: String, environment: [String: String] = [:]) -> [ConfigurationIssue] {
        ConfigurationLoader.validate(yaml: yaml, environment: environment)
    }

    /// The single issue of `yaml`, checked for kind and path.
    @discardableResult
    private func expectIssue(
        _ yaml: String, _ kind: ConfigurationIssue.Kind, at path: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> ConfigurationIssue? {
        let found = issues(yaml)
        #expect(found.count == 1, "\(found)", sourceLocation: sourceLocation)
        #expect(found.first?.kind == kind, "\(found)", sourceLocation: sourceLocation)
        #expect(found.first?.path == path, "\(found)", sourceLocation: sourceLocation)
        #expect(found.first?.hint?.isEmpty == false, sourceLocation: sourceLocation)
        return found.first
    }

    @Test func baseIsValid() {
        #expect(issues(Self.base).isEmpty)
    }

    @Test func malformedYAMLHasLineAndColumn() {
        let issue = expectIssue("pools:\n  chat: [a, b\n", .malformedYAML, at: "")
        #expect(issue?.line == 3)
        #expect(issue?.column != nil)
        #expect(issue?.message.hasPrefix("Malformed YAML") == true)
    }

    @Test func duplicateKeysAreMalformed() {
        let issue = expectIssue("pools:\n  a: {}\n  a: {}\n", .malformedYAML, at: "")
        #expect(issue?.message.contains("'a'") == true)
    }

    @Test func nonMappingSections() {
        expectIssue("models: [a, b]", .wrongType, at: "models")
        expectIssue("pools: 3", .wrongType, at: "pools")
        expectIssue("proxy: [x]", .wrongType, at: "proxy")
        expectIssue(Self.base + "pools:\n  chat: [openai.gpt-4o]\n", .wrongType, at: "pools.chat")
        expectIssue("- just a list", .wrongType, at: "")
    }

    @Test func unknownTopLevelKeySuggestsNearest() {
        let issue = expectIssue("provders: {}", .unknownKey, at: "provders")
        #expect(issue?.message == "Unknown top-level key 'provders'")
        #expect(issue?.hint == "Did you mean 'providers'?")
        #expect(issue?.line == 1)
        #expect(issue?.column == 1)
    }

    @Test func unknownKeysInsideProvidersModelsPools() {
        let provider = expectIssue(
            "providers:\n  openai: {api_key: k, base_ulr: x}", .unknownKey, at: "providers.openai.base_ulr")
        #expect(provider?.hint == "Did you mean 'base_url'?")
        let model = expectIssue(
            Self.base.replacingOccurrences(of: "capabilities: [chat]", with: "capabilities: [chat], pricng: {}"),
            .unknownKey, at: "models.openai.gpt-4o.pricng")
        #expect(model?.hint == "Did you mean 'pricing'?")
        let pool = expectIssue(
            Self.base + "pools:\n  chat: {capability: chat, stratgy: round-robin}", .unknownKey,
            at: "pools.chat.stratgy")
        #expect(pool?.hint == "Did you mean 'strategy'?")
        expectIssue(
            Self.base + "pools:\n  chat: {capability: chat, retry: {max_atempts: 2}}", .unknownKey,
            at: "pools.chat.retry.max_atempts")
    }

    @Test func connectorSpecificProviderKeysAreSettings() throws {
        let config = try ConfigurationLoader.parse(
            yaml: """
                providers:
                  openai: {api_key: k, organization: o, stream_usage: false}
                  anthropic: {api_key: k, anthropic_version: "2023-06-01", max_tokens: 4096}
                  google: {connector: google.gemini.v1, api_key: k, safety_settings: []}
                """, environment: [:])
        #expect(config.providers[0].settings == ["organization": .string("o"), "stream_usage": .bool(false)])
        #expect(config.providers[1].settings == ["anthropic_version": .string("2023-06-01"), "max_tokens": .int(4096)])
        #expect(config.providers[2].settings == ["safety_settings": .array([])])
        // A key no connector reads is an error, not a silently kept setting.
        expectIssue(
            "providers:\n  openai: {api_key: k, some_vendor_flag: true}", .unknownKey,
            at: "providers.openai.some_vendor_flag")
        expectIssue(
            "providers:\n  openai: {api_key: k, safety_settings: []}", .notSupported,
            at: "providers.openai.safety_settings")
    }

    @Test func unknownProviderConnector() {
        let explicit = expectIssue(
            "providers:\n  p: {connector: openai.llm.v2}", .unknownConnector, at: "providers.p.connector")
        #expect(explicit?.hint == "Did you mean 'openai.llm.v1'?")
        expectIssue("providers:\n  my-endpoint: {api_key: k}", .unknownConnector, at: "providers.my-endpoint")
    }

    @Test func unknownObservabilityConnector() {
        let issue = expectIssue(
            "observability:\n  routing: {connector: modelmesh.webhok.v1}", .unknownConnector,
            at: "observability.routing.connector")
        #expect(issue?.hint == "Did you mean 'modelmesh.webhook.v1'?")
        expectIssue(
            "observability:\n  connectors:\n    - connector: acme.splunk.v1", .unknownConnector,
            at: "observability.connectors[0].connector")
    }

    @Test func unknownSecretStoreAndStorage() {
        expectIssue("secrets: {store: vault.secrets.v1}", .unknownConnector, at: "secrets.store")
        expectIssue("secrets: {connector: modelmesh.envv.v1}", .unknownConnector, at: "secrets.connector")
        expectIssue("storage: {connector: redis.redis.v1}", .unknownConnector, at: "storage.connector")
    }

    @Test func unknownStrategy() {
        let issue = expectIssue(
            Self.base + "pools:\n  chat: {capability: chat, strategy: round-robbin}", .unknownStrategy,
            at: "pools.chat.strategy")
        #expect(issue?.hint == "Did you mean 'round-robin'?")
        expectIssue(
            Self.base + "pools:\n  chat: {capability: chat, rotation: {policy: fastest}}", .unknownStrategy,
            at: "pools.chat.rotation.policy")
    }

    @Test func strategyShortAndLongNamesNormalize() throws {
        for name in ["latency-first", "modelmesh.latency-first.v1", "rotation.modelmesh.latency-first.v1"] {
            let config = try ConfigurationLoader.parse(
                yaml: Self.base + "pools:\n  chat: {capability: chat, strategy: \(name)}", environment: [:])
            #expect(config.pools[0].strategy == "modelmesh.latency-first.v1")
        }
    }

    @Test func modelReferencingUndefinedProvider() {
        let issue = expectIssue(
            Self.base + "  openai.gpt-4o-mini: {provider: opnai, capabilities: [chat]}\n", .undefinedReference,
            at: "models.openai.gpt-4o-mini.provider")
        #expect(issue?.message == "Model 'openai.gpt-4o-mini' references unknown provider 'opnai'")
        #expect(issue?.hint == "Did you mean 'openai'?")
    }

    @Test func modelWithoutProvider() {
        expectIssue("models:\n  acme.m1: {capabilities: [chat]}", .missingValue, at: "models.acme.m1")
    }

    @Test func poolReferencingUndefinedModelsAndProviders() {
        expectIssue(
            Self.base + "pools:\n  chat: {models: [openai.gpt-4o, openai.gpt-5]}", .undefinedReference,
            at: "pools.chat.models[1]")
        expectIssue(
            Self.base + "pools:\n  chat: {capability: chat, providers: [anthropic]}", .undefinedReference,
            at: "pools.chat.providers[0]")
        expectIssue(
            Self.base + "pools:\n  chat: {capability: chat, strategy: load-balanced, model_weights: {openai.gpt-5: 2}}",
            .undefinedReference,
            at: "pools.chat.model_weights.openai.gpt-5")
        let duplicate = expectIssue(
            Self.base + "pools:\n  chat: {models: [openai.gpt-4o, openai.gpt-4o]}", .invalidValue,
            at: "pools.chat.models[1]")
        #expect(duplicate?.message == "Model 'openai.gpt-4o' already exists in pool 'chat'")
    }

    @Test func poolWithoutCapabilityOrModels() {
        expectIssue(Self.base + "pools:\n  fast: {strategy: round-robin}", .missingValue, at: "pools.fast")
    }

    @Test func capabilities() {
        let issue = expectIssue(
            Self.base.replacingOccurrences(of: "capabilities: [chat]", with: "capabilities: [chat-completon]"),
            .unknownCapability, at: "models.openai.gpt-4o.capabilities[0]")
        #expect(issue?.hint == "Did you mean 'chat-completion'?")
        expectIssue(
            Self.base + "pools:\n  chat: {capability: speling}", .unknownCapability, at: "pools.chat.capability")
    }

    @Test func badDurations() {
        let issue = expectIssue(
            Self.base + "pools:\n  chat: {capability: chat, retry: {initial_delay: 5x}}", .invalidDuration,
            at: "pools.chat.retry.initial_delay")
        #expect(issue?.message == "Invalid duration '5x': expected <number><ms|s|m|h|d>, e.g. '30s'")
        #expect(issue?.description.hasPrefix("pools.chat.retry.initial_delay (line 6, column ") == true)
        expectIssue(
            "providers:\n  openai: {api_key: k, timeout: soon}", .invalidDuration, at: "providers.openai.timeout")
        expectIssue(
            Self.base + "pools:\n  chat: {capability: chat, stream: {idle_timeout: -1s}}", .invalidDuration,
            at: "pools.chat.stream.idle_timeout")
        expectIssue("proxy: {shutdown_timeout: 1w}", .invalidDuration, at: "proxy.shutdown_timeout")
        expectIssue(
            Self.base + "pools:\n  chat: {capability: chat, cooldown_seconds: later}", .invalidDuration,
            at: "pools.chat.cooldown_seconds")
    }

    @Test func negativeLimitsAndThresholds() {
        let issue = expectIssue("budget: {daily_limit: -5}", .invalidValue, at: "budget.daily_limit")
        #expect(issue?.message == "Must be >= 0, got -5")
        expectIssue("budget: {per_request: -0.1}", .invalidValue, at: "budget.per_request")
        expectIssue(
            Self.base + "pools:\n  chat: {capability: chat, deactivation: {request_limit: -1}}", .invalidValue,
            at: "pools.chat.deactivation.request_limit")
        expectIssue(
            Self.base + "pools:\n  chat: {capability: chat, cooldown_seconds: -3}", .invalidValue,
            at: "pools.chat.cooldown_seconds")
        expectIssue(
            Self.base + "pools:\n  chat: {capability: chat, failure_threshold: 0}", .invalidValue,
            at: "pools.chat.failure_threshold")
        expectIssue(
            "providers:\n  openai: {api_key: k, budget: {monthly_limit: -1}}", .invalidValue,
            at: "providers.openai.budget.monthly_limit")
    }

    @Test func errorRateThresholdRange() {
        let issue = expectIssue(
            Self.base + "pools:\n  chat: {capability: chat, deactivation: {error_rate_threshold: 1.5}}", .invalidValue,
            at: "pools.chat.deactivation.error_rate_threshold")
        #expect(issue?.message == "Must be between 0 and 1, got 1.5")
    }

    @Test func maxAttemptsAtLeastOne() {
        expectIssue(
            Self.base + "pools:\n  chat: {capability: chat, retry: {max_attempts: 0}}", .invalidValue,
            at: "pools.chat.retry.max_attempts")
        expectIssue(
            Self.base + "pools:\n  chat: {capability: chat, retry: {max_attempts: three}}", .wrongType,
            at: "pools.chat.retry.max_attempts")
    }

    @Test func badEventFilterNames() {
        let issue = expectIssue(
            "observability:\n  routing:\n    events: [model_rotated, model_rotatd]", .invalidValue,
            at: "observability.routing.events[1]")
        #expect(issue?.hint == "Did you mean 'model_rotated'?")
        expectIssue(
            "observability:\n  connector: modelmesh.console.v1\n  events: {filter: [rotaton]}", .invalidValue,
            at: "observability.events.filter[0]")
    }

    @Test func badMidStreamValue() {
        let issue = expectIssue(
            Self.base + "pools:\n  chat: {capability: chat, stream: {mid_stream: retry}}", .invalidValue,
            at: "pools.chat.stream.mid_stream")
        #expect(issue?.message == "Invalid value 'retry': expected one of continue, fail")
    }

    @Test func otherEnumsAndTypes() {
        expectIssue(
            Self.base + "pools:\n  chat: {capability: chat, retry: {backoff: linear}}", .invalidValue,
            at: "pools.chat.retry.backoff")
        expectIssue("observability: {logging: {level: verbose}}", .invalidValue, at: "observability.logging.level")
        expectIssue("proxy: {port: 70000}", .invalidValue, at: "proxy.port")
        expectIssue("proxy: {body_limit: lots}", .invalidValue, at: "proxy.body_limit")
        expectIssue("providers:\n  openai: {api_key: k, enabled: maybe}", .wrongType, at: "providers.openai.enabled")
        expectIssue("providers:\n  openai: {api_key: [k]}", .wrongType, at: "providers.openai.api_key")
    }

    @Test func severalErrorsAreAllReported() {
        let yaml = """
            provders: {}
            providers:
              openai: {api_key: k, connector: openai.llm.v9}
            models:
              openai.gpt-4o: {provider: nobody, capabilities: [chat]}
            pools:
              chat:
                capability: chat
                strategy: fastest
                models: [openai.gpt-4o, ghost]
                retry: {initial_delay: 5x, max_attempts: 0}
                deactivation: {error_rate_threshold: 2}
                stream: {mid_stream: maybe}
            budget: {daily_limit: -1}
            observability:
              routing: {events: [nope]}
            """
        let found = issues(yaml)
        let paths = Set(found.map(\.path))
        #expect(
            paths == [
                "provders", "providers.openai.connector", "models.openai.gpt-4o.provider", "pools.chat.strategy",
                "pools.chat.models[1]", "pools.chat.retry.initial_delay", "pools.chat.retry.max_attempts",
                "pools.chat.deactivation.error_rate_threshold", "pools.chat.stream.mid_stream", "budget.daily_limit",
                "observability.routing.events[0]",
            ])
        #expect(found.count == 11)

        let error = #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: yaml, environment: [:])
        }
        let lines = error?.description.split(separator: "\n") ?? []
        #expect(lines.first == "Invalid configuration (11 problems):")
        #expect(lines.count == 12)
        #expect(lines.contains { $0.contains("pools.chat.strategy (line 9, column 15): Unknown strategy 'fastest'") })
    }
}

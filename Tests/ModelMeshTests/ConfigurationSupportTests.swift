import Foundation
import Testing

@testable import ModelMesh

/// Every configuration key either works or is rejected with its path: the keys ModelMesh does
/// not implement, and the keys added to implement the rest.
@Suite struct ConfigurationSupportTests {
    static let base = """
        providers:
          openai: {api_key: k}
        models:
          openai.gpt-4o: {provider: openai, capabilities: [chat]}

        """

    /// A documented key that is not implemented, in a minimal file, and the path it must be reported at.
    struct Rejected: Sendable, CustomTestStringConvertible {
        var yaml: String
        var path: String
        var testDescription: String { path }

        init(_ path: String, _ yaml: String, base: Bool = true) {
            self.path = path
            self.yaml = (base ? ConfigurationSupportTests.base : "") + yaml
        }
    }

    static let rejected: [Rejected] = [
        // Pools, flat and in the nested `rotation:` shape.
        .init("pools.chat.affinity_mode", "pools:\n  chat: {capability: chat, affinity_mode: strict}"),
        .init(
            "pools.chat.rotation.selection.affinity_mode",
            "pools:\n  chat:\n    capability: chat\n    rotation: {selection: {affinity_mode: fallback}}"),
        .init("pools.chat.fallback_strategy", "pools:\n  chat: {capability: chat, fallback_strategy: error}"),
        .init(
            "pools.chat.rotation.selection.fallback_strategy",
            "pools:\n  chat:\n    capability: chat\n    rotation: {selection: {fallback_strategy: round-robin}}"),
        .init(
            "pools.chat.rate_limit.min_delta",
            "pools:\n  chat: {capability: chat, strategy: rate-limit-aware, rate_limit: {min_delta: 1s}}"),
        .init(
            "pools.chat.rotation.selection.rate_limit.min_delta",
            "pools:\n  chat:\n    capability: chat\n    rotation: {policy: rate-limit-aware, selection: {rate_limit: {min_delta: 2s}}}"
        ),
        .init(
            "pools.chat.deactivation.quota_window",
            "pools:\n  chat: {capability: chat, deactivation: {quota_window: monthly}}"),
        .init(
            "pools.chat.rotation.deactivation.quota_window",
            "pools:\n  chat:\n    capability: chat\n    rotation: {deactivation: {quota_window: daily}}"),
        .init(
            "pools.chat.deactivation.maintenance_window",
            "pools:\n  chat: {capability: chat, deactivation: {maintenance_window: \"0 2 * * 6\"}}"),
        .init(
            "pools.chat.recovery.on_quota_reset", "pools:\n  chat: {capability: chat, recovery: {on_quota_reset: true}}"
        ),
        .init(
            "pools.chat.recovery.quota_reset_schedule",
            "pools:\n  chat: {capability: chat, recovery: {quota_reset_schedule: monthly}}"),
        .init("pools.chat.excluded_providers", "pools:\n  chat: {capability: chat, excluded_providers: [openai]}"),
        .init(
            "pools.chat.provider_deactivation",
            "pools:\n  chat: {capability: chat, provider_deactivation: on_api_outage}"),
        .init("pools.chat.provider_recovery", "pools:\n  chat: {capability: chat, provider_recovery: on_manual}"),
        .init("pools.chat.strategy_instance", "pools:\n  chat: {capability: chat, strategy_instance: x}"),
        // Selection keys of another strategy than the pool's.
        .init("pools.chat.balance_mode", "pools:\n  chat: {capability: chat, balance_mode: absolute}"),
        .init(
            "pools.chat.rotation.selection.model_priority",
            "pools:\n  chat:\n    capability: chat\n    rotation: {policy: round-robin, selection: {model_priority: [openai.gpt-4o]}}"
        ),
        .init(
            "pools.chat.session_timeout",
            "pools:\n  chat: {capability: chat, strategy: cost-first, session_timeout: 5m}"),
        // Providers and models.
        .init("providers.openai.max_retries", "providers:\n  openai: {api_key: k, max_retries: 5}", base: false),
        .init(
            "providers.openai.quota", "providers:\n  openai: {api_key: k, quota: {query_current: true}}", base: false),
        .init(
            "providers.openai.anthropic_version",
            "providers:\n  openai: {api_key: k, anthropic_version: \"2023-06-01\"}",
            base: false),
        .init(
            "providers.openai.auth.key_rotation", "providers:\n  openai: {auth: {api_key: k, key_rotation: true}}",
            base: false),
        .init("providers.openai.auth.method", "providers:\n  openai: {auth: {api_key: k, method: oauth}}", base: false),
        .init(
            "models.m.batch",
            "providers:\n  openai: {api_key: k}\nmodels:\n  m: {provider: openai, capabilities: [chat], batch: {max_items: 10}}",
            base: false),
        .init(
            "models.m.constraints.max_images",
            "providers:\n  openai: {api_key: k}\nmodels:\n  m: {provider: openai, constraints: {max_images: 4}}",
            base: false),
        .init(
            "models.m.features[1]",
            "providers:\n  openai: {api_key: k}\nmodels:\n  m: {provider: openai, features: [vision, grounding]}",
            base: false),
        .init(
            "models.m.delivery.batch",
            "providers:\n  openai: {api_key: k}\nmodels:\n  m: {provider: openai, delivery: {batch: true}}", base: false
        ),
        .init(
            "models.m.pricing.currency",
            "providers:\n  openai: {api_key: k}\nmodels:\n  m: {provider: openai, pricing: {input: 1, currency: EUR}}",
            base: false),
        // Secrets, storage, discovery, proxy, connectors.
        .init("secrets.cache_ttl", "secrets: {cache_ttl: 5m}", base: false),
        .init("secrets.prefix", "secrets: {store: modelmesh.env.v1, prefix: APP_}", base: false),
        .init("secrets.path", "secrets: {store: modelmesh.env.v1, path: ./.env}", base: false),
        .init(
            "storage.on_unavailable", "storage: {connector: modelmesh.local-file.v1, on_unavailable: fail_open}",
            base: false),
        .init("storage.format", "storage: {connector: modelmesh.local-file.v1, format: yaml}", base: false),
        .init("storage.path", "storage: {connector: modelmesh.memory.v1, path: ./state.json}", base: false),
        .init("discovery.health.timeout", "discovery: {health: {timeout: 5s}}", base: false),
        .init("discovery.health.providers", "discovery: {health: {providers: [openai]}}", base: false),
        .init("discovery.connector", "discovery: {connector: modelmesh.auto-discovery.v1}", base: false),
        .init("proxy.auth.method", "proxy: {auth: {method: basic, tokens: [a]}}", base: false),
        .init("connectors.packages", "connectors: {packages: [./my-connector.zip]}", base: false),
        // Observability.
        .init("observability.statistics.retention", "observability: {statistics: {retention: 7d}}", base: false),
        .init(
            "observability.routing.events.include_metadata",
            "observability: {routing: {events: {filter: [rotation], include_metadata: false}}}", base: false),
        .init(
            "observability.routing.colorize",
            "observability: {routing: {connector: modelmesh.console.v1, colorize: true}}", base: false),
        .init(
            "observability.routing.requests",
            "observability: {routing: {connector: modelmesh.console.v1, requests: true}}", base: false),
        .init(
            "observability.connectors[0].content_type",
            "observability:\n  connectors:\n    - {connector: modelmesh.webhook.v1, url: \"https://h.example/x\", content_type: text/plain}",
            base: false),
        .init(
            "observability.logging.rotation",
            "observability: {logging: {connector: modelmesh.local-file.v1, path: r.jsonl, rotation: daily}}",
            base: false),
        .init(
            "observability.routing.connector", "observability: {routing: {connector: modelmesh.callback.v1}}",
            base: false),
    ]

    @Test(arguments: rejected)
    func rejectedKeyIsNotSupportedAtItsPath(_ case: Rejected) {
        let issues = ConfigurationLoader.validate(yaml: `case`.yaml, environment: [:])
        #expect(issues.count == 1, "\(issues)")
        let issue = issues.first
        #expect(issue?.kind == .notSupported, "\(issues)")
        #expect(issue?.path == `case`.path, "\(issues)")
        #expect(issue?.hint?.isEmpty == false)
        #expect(
            issue?.description.contains("not supported yet") == true || issue?.message.contains("no effect") == true)
    }

    @Test func notSupportedIssuesFailValidation() throws {
        let report = ConfigurationReport(
            path: "modelmesh.yaml", configuration: nil,
            issues: ConfigurationLoader.validate(yaml: "secrets: {cache_ttl: 5m}", environment: [:]))
        #expect(!report.isValid)
        #expect(report.text.contains("secrets.cache_ttl"))
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.parse(yaml: "secrets: {cache_ttl: 5m}", environment: [:])
        }
    }

    /// Values that match the behaviour ModelMesh always has are accepted.
    @Test func valuesMatchingTheBuiltInBehaviourAreAccepted() {
        let yaml = """
            providers:
              openai: {auth: {method: api_key, api_key: k}}
            models:
              openai.gpt-4o:
                provider: openai
                capabilities: [chat]
                delivery: {batch: false}
                features: {grounding: false}
                pricing: {input: 1, output: 2, currency: USD}
            discovery:
              sync: {auto_register: false, on_new_model: notify, on_deprecated_model: notify}
            proxy:
              auth: {method: bearer, tokens: [t]}
            observability:
              routing: {events: {filter: [rotation], include_metadata: true}}
            """
        #expect(ConfigurationLoader.validate(yaml: yaml, environment: [:]).isEmpty)
    }

    // MARK: Typos in sections that pass settings through

    @Test(
        arguments: [
            ("secrets: {store: modelmesh.memory.v1, valus: {a: b}}", "secrets.valus", "Did you mean 'values'?"),
            (
                "storage: {connector: modelmesh.local-file.v1, sync_polcy: periodic}", "storage.sync_polcy",
                "Did you mean 'sync_policy'?"
            ),
            ("discovery: {health: {intervl: 30s}}", "discovery.health.intervl", "Did you mean 'interval'?"),
            ("discovery: {snyc: {interval: 1h}}", "discovery.snyc", "Did you mean 'sync'?"),
            (
                "observability: {routing: {connector: modelmesh.local-file.v1, max_sise: 10MB}}",
                "observability.routing.max_sise", "Did you mean 'max_size'?"
            ),
            (
                "observability:\n  connectors:\n    - {connector: modelmesh.webhook.v1, url: \"https://h.example/x\", batch_sise: 5}",
                "observability.connectors[0].batch_sise", "Did you mean 'batch_size'?"
            ),
            ("observability: {logging: {levl: full}}", "observability.logging.levl", "Did you mean 'level'?"),
            ("observability: {tracng: {min_severity: info}}", "observability.tracng", "Did you mean 'tracing'?"),
            (
                "providers:\n  openai: {api_key: k, organisation: o}", "providers.openai.organisation",
                "Did you mean 'organization'?"
            ),
            ("providers:\n  openai: {api_key: k, some_vendor_flag: true}", "providers.openai.some_vendor_flag", nil),
            ("providers:\n  openai: {auth: {api_kye: k}}", "providers.openai.auth.api_kye", "Did you mean 'api_key'?"),
        ] as [(String, String, String?)])
    func typoIsAnUnknownKeyWithASuggestion(_ yaml: String, _ path: String, _ hint: String?) {
        let issues = ConfigurationLoader.validate(yaml: yaml, environment: [:])
        #expect(issues.count == 1, "\(issues)")
        #expect(issues.first?.kind == .unknownKey, "\(issues)")
        #expect(issues.first?.path == path, "\(issues)")
        if let hint { #expect(issues.first?.hint == hint, "\(issues)") }
    }

    @Test func connectorSettingValuesAreChecked() {
        let cases: [(String, String)] = [
            (
                "observability: {routing: {connector: modelmesh.local-file.v1, max_files: -1}}",
                "observability.routing.max_files"
            ),
            (
                "observability: {routing: {connector: modelmesh.local-file.v1, max_size: huge}}",
                "observability.routing.max_size"
            ),
            (
                "observability: {routing: {connector: modelmesh.console.v1, target: printer}}",
                "observability.routing.target"
            ),
            (
                "observability:\n  connectors:\n    - {connector: modelmesh.webhook.v1, url: ftp://x}",
                "observability.connectors[0].url"
            ),
            ("observability:\n  connectors:\n    - {connector: modelmesh.webhook.v1}", "observability.connectors[0]"),
            ("observability: {routing: {channels: [events, lgos]}}", "observability.routing.channels[1]"),
        ]
        for (yaml, path) in cases {
            let issues = ConfigurationLoader.validate(yaml: yaml, environment: [:])
            #expect(issues.map(\.path) == [path], "\(yaml): \(issues)")
        }
    }

    @Test func observabilityBlocksNeedTheirConnector() {
        let issues = ConfigurationLoader.validate(
            yaml: "observability:\n  webhook: {url: \"https://h.example/x\"}\n  logging: {path: ./r.jsonl}",
            environment: [:])
        #expect(issues.map(\.path) == ["observability.webhook", "observability.logging.path"])
        #expect(issues.first?.hint?.contains("connector: modelmesh.webhook.v1") == true)
        #expect(issues.last?.hint?.contains("add `connector:`") == true)
    }

    // MARK: Keys parsed for the router (behaviour lives there)

    @Test func retryCodesScopeAndProbeOnStartParse() throws {
        let yaml =
            Self.base + """
                pools:
                  chat:
                    capability: chat
                    retry: {retryable_codes: [429, 503], non_retryable_codes: [400, 401, 403, 404], scope: same_provider}
                    recovery: {probe_on_start: true}
                  nested:
                    capability: chat
                    rotation: {retry: {scope: same-model, retryable_codes: [400, 500]}}
                """
        let config = try ConfigurationLoader.parse(yaml: yaml, environment: [:])
        let chat = config.pools[0]
        #expect(chat.retry.retryableCodes == [429, 503])
        #expect(chat.retry.nonRetryableCodes == [400, 401, 403, 404])
        #expect(chat.retry.scope == .sameProvider)
        #expect(chat.recovery.probeOnStart)
        #expect(!chat.recovery.announceOnStart)
        let nested = config.pools[1]
        #expect(nested.retry.scope == .sameModel)
        // A list written in the file wins over the other list's defaults.
        #expect(nested.retry.retryableCodes == [400, 500])
        #expect(nested.retry.nonRetryableCodes == [401, 403])
    }

    @Test func retryDefaults() {
        let retry = RetryPolicy()
        #expect(retry.retryableCodes == [429, 500, 502, 503, 504, 529])
        #expect(retry.nonRetryableCodes == [400, 401, 403])
        #expect(retry.scope == .any)
        #expect(RecoveryPolicy().probeOnStart == false)
    }

    @Test func badRetryValues() {
        let cases: [(String, String, ConfigurationIssue.Kind)] = [
            ("retry: {retryable_codes: [429, 600]}", "pools.chat.retry.retryable_codes[1]", .invalidValue),
            ("retry: {non_retryable_codes: [abc]}", "pools.chat.retry.non_retryable_codes[0]", .wrongType),
            (
                "retry: {retryable_codes: [429], non_retryable_codes: [400, 429]}",
                "pools.chat.retry.non_retryable_codes[1]", .invalidValue
            ),
            ("retry: {scope: everywhere}", "pools.chat.retry.scope", .invalidValue),
            ("recovery: {probe_on_start: sometimes}", "pools.chat.recovery.probe_on_start", .wrongType),
            ("strategy: load-balanced, balance_mode: proportional", "pools.chat.balance_mode", .invalidValue),
        ]
        for (fragment, path, kind) in cases {
            let issues = ConfigurationLoader.validate(
                yaml: Self.base + "pools:\n  chat: {capability: chat, \(fragment)}", environment: [:])
            #expect(issues.map(\.path) == [path], "\(fragment): \(issues)")
            #expect(issues.first?.kind == kind, "\(fragment): \(issues)")
        }
    }

    // MARK: Implemented keys

    @Test func balanceModeParsesFlatAndNested() throws {
        let yaml =
            Self.base + """
                pools:
                  a: {capability: chat, strategy: load-balanced, balance_mode: absolute}
                  b:
                    capability: chat
                    rotation: {policy: load-balanced, selection: {balance_mode: relative}}
                  c: {capability: chat}
                """
        let config = try ConfigurationLoader.parse(yaml: yaml, environment: [:])
        #expect(config.pools.map(\.balanceMode) == [.absolute, .relative, .relative])
    }

    @Test func maintenanceWindowsParse() throws {
        let yaml =
            Self.base + """
                pools:
                  chat:
                    capability: chat
                    deactivation:
                      maintenance_window: {days: [sat, Sunday], start: "02:00", end: "04:30", timezone: "+02:00"}
                  other:
                    capability: chat
                    deactivation:
                      maintenance_window:
                        - {start: "23:00", end: "01:00", models: [openai.gpt-4o]}
                        - {days: [mon], start: "00:00", end: "24:00", timezone: UTC, providers: [openai]}
                """
        let config = try ConfigurationLoader.parse(yaml: yaml, environment: [:])
        let window = try #require(config.pools[0].deactivation.maintenanceWindows.first)
        #expect(window.days == [.saturday, .sunday])
        #expect(window.start == 120)
        #expect(window.end == 270)
        #expect(window.timeZone.secondsFromGMT() == 7200)
        let windows = config.pools[1].deactivation.maintenanceWindows
        #expect(windows.count == 2)
        #expect(windows[0].days.isEmpty)
        #expect(windows[0].models == ["openai.gpt-4o"])
        #expect(windows[1].end == 1440)
        #expect(windows[1].providers == ["openai"])
    }

    @Test func badMaintenanceWindows() {
        let cases: [(String, String)] = [
            (
                "{days: [caturday], start: \"02:00\", end: \"03:00\"}",
                "pools.chat.deactivation.maintenance_window.days[0]"
            ),
            ("{start: \"2am\", end: \"03:00\"}", "pools.chat.deactivation.maintenance_window.start"),
            ("{start: \"24:00\", end: \"03:00\"}", "pools.chat.deactivation.maintenance_window.start"),
            ("{start: \"02:00\"}", "pools.chat.deactivation.maintenance_window.end"),
            (
                "{start: \"02:00\", end: \"03:00\", timezone: Mars/Olympus}",
                "pools.chat.deactivation.maintenance_window.timezone"
            ),
            (
                "{start: \"02:00\", end: \"03:00\", models: [openai.gpt-5]}",
                "pools.chat.deactivation.maintenance_window.models[0]"
            ),
            ("{start: \"02:00\", end: \"03:00\", every: week}", "pools.chat.deactivation.maintenance_window.every"),
        ]
        for (window, path) in cases {
            let issues = ConfigurationLoader.validate(
                yaml: Self.base
                    + "pools:\n  chat:\n    capability: chat\n    deactivation:\n      maintenance_window: \(window)",
                environment: [:])
            #expect(issues.map(\.path) == [path], "\(window): \(issues)")
        }
    }

    @Test func observabilityChannelsAndLimitsParse() throws {
        let yaml = """
            observability:
              routing: {connector: modelmesh.local-file.v1, path: ./events.jsonl}
              connectors:
                - {connector: modelmesh.local-file.v1, path: ./all.jsonl, channels: [events, logs, stats, traces]}
                - {connector: modelmesh.prometheus.v1}
              logging: {connector: modelmesh.local-file.v1, path: ./requests.jsonl, level: full, max_payload_size: 4KB}
              statistics: {connector: modelmesh.console.v1, statistics: true, scopes: [model, pools]}
              tracing: {connector: modelmesh.console.v1, min_severity: warning}
            """
        let config = try ConfigurationLoader.parse(yaml: yaml, environment: [:])
        let o = config.observability
        #expect(
            o.connectors.map(\.channels) == [
                [.events], Set(ObservabilityChannel.allCases), Set(ObservabilityChannel.allCases), [.logs],
                [.statistics],
                [.traces],
            ])
        #expect(o.connectors.allSatisfy { $0.settings["channels"] == nil })
        #expect(o.maxPayloadSize == 4096)
        #expect(o.statisticsScopes == [.model, .pool])
        #expect(o.traceMinSeverity == .warning)
        let bytes = try ConfigurationLoader.parse(
            yaml: "observability: {logging: {max_payload_size: 4096}}", environment: [:])
        #expect(bytes.observability.maxPayloadSize == 4096)
        // The single-connector shape receives every channel.
        let single = try ConfigurationLoader.parse(
            yaml: "observability: {connector: modelmesh.null.v1}", environment: [:])
        #expect(single.observability.connectors.first?.channels == Set(ObservabilityChannel.allCases))
    }

    @Test func consoleGivenAChannelOnPurposePrintsIt() throws {
        let yaml = """
            observability:
              logging: {connector: modelmesh.console.v1}
              statistics: {connector: modelmesh.console.v1, statistics: false}
              connectors:
                - {connector: modelmesh.console.v1, channels: [events, logs, stats, traces]}
            """
        let connectors = try ConfigurationLoader.parse(yaml: yaml, environment: [:]).observability.connectors
        #expect(connectors[0].settings == ["requests": .bool(true), "statistics": .bool(true)])
        #expect(connectors[1].settings == ["requests": .bool(true)])
        #expect(connectors[2].settings == ["statistics": .bool(false)])
        // The single-connector shape keeps the console's own defaults.
        let single = try ConfigurationLoader.parse(
            yaml: "observability: {connector: modelmesh.console.v1}", environment: [:])
        #expect(single.observability.connectors.first?.settings == [:])
    }

    @Test func localFileStorageWithoutPolicyPersists() throws {
        let config = try ConfigurationLoader.parse(
            yaml: "storage: {connector: modelmesh.local-file.v1, path: ./state.json}", environment: [:])
        #expect(config.storage.syncPolicy == .immediate)
        let issues = ConfigurationLoader.validate(
            yaml: "storage: {connector: modelmesh.local-file.v1, sync_policy: in-memory}", environment: [:])
        #expect(issues.map(\.path) == ["storage.sync_policy"])
        let interval = ConfigurationLoader.validate(
            yaml: "storage: {connector: modelmesh.local-file.v1, sync_interval: 5m}", environment: [:])
        #expect(interval.map(\.path) == ["storage.sync_interval"])
    }
}

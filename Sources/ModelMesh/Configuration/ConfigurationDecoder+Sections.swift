import Foundation
import Yams

extension ConfigurationDecoder {
    /// The ten top-level sections of `modelmesh.yaml`.
    static let sectionKeys = [
        "providers", "models", "pools", "secrets", "storage", "observability", "discovery", "proxy", "budget",
        "connectors",
    ]

    /// The whole document. Reads `secrets` first, builds the store, then everything else.
    mutating func decodeDocument(
        _ root: Node, storeOverride: (any SecretStore)?, environment: [String: String]
    ) -> MeshConfiguration {
        var configuration = MeshConfiguration()
        guard let document = mapping(root, at: "") else { return configuration }
        for entry in document.entries where !Self.sectionKeys.contains(entry.key) {
            report(
                .unknownKey, at: entry.path, "Unknown top-level key '\(entry.key)'",
                hint: NameSuggestion.hint(
                    for: entry.key, in: Self.sectionKeys,
                    otherwise: "Top-level sections are: \(Self.sectionKeys.joined(separator: ", "))"),
                mark: entry.keyMark)
        }

        configuration.secrets = decodeSecrets(document["secrets"])
        interpolator.failOnMissing = configuration.secrets.failOnMissing
        if let storeOverride {
            interpolator.store = storeOverride
            interpolator.storeID = "(custom)"
        } else {
            interpolator.storeID = configuration.secrets.store
            let store = makeStore(configuration.secrets, environment: environment, entry: document["secrets"])
            interpolator.store = store ?? InMemorySecretStore([:])
            interpolator.storeAvailable = store != nil
        }

        configuration.providers = decodeProviders(document["providers"])
        configuration.models = decodeModels(document["models"], providers: configuration.providers)
        configuration.pools = decodePools(
            document["pools"], models: configuration.models, providers: configuration.providers)
        configuration.storage = decodeStorage(document["storage"])
        configuration.observability = decodeObservability(document["observability"])
        configuration.discovery = decodeDiscovery(document["discovery"], providers: configuration.providers.map(\.id))
        configuration.proxy = decodeProxy(document["proxy"])
        configuration.budget = decodeBudget(document["budget"])
        if let connectors = mapping(document["connectors"]) {
            // Connector packages are a Python feature; custom connectors register in code.
            checkKeys(
                connectors, known: [],
                unsupported: [
                    "packages":
                        "Connector packages are not loaded; register custom connectors in Swift "
                        + "(ProviderRegistry, ObservabilityRegistry, StrategyRegistry)"
                ], in: "connectors")
        }
        return configuration
    }

    // MARK: Secrets

    private static let secretStoreAliases = ["modelmesh.memory-secrets.v1": "modelmesh.memory.v1"]

    static let secretsKeys = [
        "store", "connector", "config", "fail_on_missing", "path", "file_path", "values", "secrets",
    ]
    /// Documented secrets keys that are not implemented, with what to do instead.
    static let unsupportedSecretsKeys = [
        "cache_enabled": "Secrets are read once, when the configuration is loaded; remove the key",
        "cache_ttl": "Secrets are read once, when the configuration is loaded; remove the key",
        "reload_on_rotation": "Secrets are read when the configuration is loaded or reloaded; remove the key",
        "prefix": "Write the whole variable name in the reference: ${secrets:PREFIX_NAME}",
        "override": "Values of the .env file are used as written; read the environment with ${NAME}",
        "override_env": "Values of the .env file are used as written; read the environment with ${NAME}",
        "json_path": "Put the secrets at the top level of the JSON file",
        "region": "Cloud secret managers are not available",
        "instance": "Pass a SecretStore in Swift: ConfigurationLoader.load(path:secrets:)",
        "passphrase": "Encrypted secret files are not available",
        "encryption_key": "Encrypted secret files are not available",
        "service_name": "The OS keyring store is not available",
    ]

    /// The `secrets` section. `${secrets:...}` cannot be used here; `${NAME}` can.
    mutating func decodeSecrets(_ entry: Entry?) -> SecretsConfiguration {
        var result = SecretsConfiguration()
        guard var map = mapping(entry) else { return result }
        if let config = mapping(map["config"]) { map = map.removing(["config"]).merging(config) }
        checkKeys(map, known: Self.secretsKeys, unsupported: Self.unsupportedSecretsKeys, in: "secrets")
        if let field = map.first("store", "connector"), let name = string(field) {
            let id = Self.secretStoreAliases[ConnectorID.normalize(name)] ?? ConnectorID.normalize(name)
            if ConnectorID.secretStores.contains(id) {
                result.store = id
            } else {
                let known = ConnectorID.secretStores.sorted()
                report(
                    .unknownConnector, at: field.path, "Unknown secret store '\(name)'",
                    hint: NameSuggestion.hint(
                        for: id, in: known, otherwise: "Use one of: \(known.joined(separator: ", "))"),
                    mark: field.node.mark)
                result.store = id
            }
        }
        // Each store reads only its own keys; another store's key would be silently dropped.
        let usesFile = ["modelmesh.dotenv.v1", "modelmesh.json-secrets.v1"].contains(result.store)
        let usesValues = result.store == "modelmesh.memory.v1"
        if let field = map.first("path", "file_path") {
            if usesFile || !ConnectorID.secretStores.contains(result.store) {
                result.path = string(field)
            } else {
                reportIneffective(field, of: result.store, hint: "Only the dotenv and JSON stores read a file")
            }
        }
        if let field = map.first("values", "secrets") {
            if usesValues {
                if let values = mapping(field) {
                    for value in values.entries {
                        if let text = string(value) { result.values[value.key] = text }
                    }
                }
            } else if ConnectorID.secretStores.contains(result.store) {
                reportIneffective(
                    field, of: result.store, hint: "Only the memory store (modelmesh.memory.v1) holds values")
            }
        }
        result.failOnMissing = bool(map["fail_on_missing"]) ?? result.failOnMissing
        return result
    }

    /// Reports a key that the chosen connector does not read.
    mutating func reportIneffective(_ entry: Entry, of connector: String, hint: String) {
        report(
            .notSupported, at: entry.path, "Key '\(entry.key)' has no effect with \(connector)", hint: hint,
            mark: entry.keyMark)
    }

    /// The configured store, or `nil` (reported) when it cannot be opened.
    private mutating func makeStore(
        _ secrets: SecretsConfiguration, environment: [String: String], entry: Entry?
    ) -> (any SecretStore)? {
        let path = entry.map { Self.path($0.path, "path") } ?? "secrets.path"
        secretsFile = secrets.path
        do {
            switch secrets.store {
            case "modelmesh.env.v1":
                return EnvironmentSecretStore(environment: environment)
            case "modelmesh.memory.v1":
                return InMemorySecretStore(secrets.values)
            case "modelmesh.dotenv.v1":
                secretsFile = secrets.path ?? ".env"
                return try DotenvSecretStore(path: secrets.path ?? ".env")
            case "modelmesh.json-secrets.v1":
                guard let file = secrets.path else {
                    report(
                        .missingValue, at: path, "The JSON secret store needs a file path",
                        hint: "Add `path: ./secrets.json` under secrets", mark: entry?.node.mark)
                    return nil
                }
                return try JSONSecretStore(path: file)
            default:
                return nil
            }
        } catch {
            let message = (error as? SecretStoreError)?.description ?? "Cannot open the secret store"
            report(
                .secretStoreUnavailable, at: path, message,
                hint: "Check that the file exists and is readable from the working directory", mark: entry?.node.mark)
            return nil
        }
    }

    // MARK: Storage

    static let storageKeys = [
        "connector", "config", "persistence", "local-file", "path", "file_path", "sync_policy", "sync_interval",
    ] + postgresKeys
    /// Keys only `modelmesh.postgres.v1` reads.
    static let postgresKeys = [
        "url", "host", "port", "user", "password", "database", "tls", "schema", "pool_size", "on_unavailable",
        "lease", "poll_interval", "unavailable_ready_status",
    ]
    /// Documented storage keys that are not implemented, with what to do instead.
    static let unsupportedStorageKeys = [
        "format": "State is stored as JSON; remove the key",
        "compression": "State files are not compressed; remove the key",
        "encryption": "State files are not encrypted; remove the key",
        "locking": "Replicas coordinate through modelmesh.postgres.v1; remove the key",
        "backup": "No backup copy is written; remove the key",
        "instance": "Pass a StateStorage in Swift: Mesh(configuration:storage:)",
        "table": "SQLite storage is not available; use modelmesh.local-file.v1",
        "bucket": "Object-store storage is not available; use modelmesh.local-file.v1",
        "key": "Object-store storage is not available; use modelmesh.local-file.v1",
        "region": "Object-store storage is not available; use modelmesh.local-file.v1",
        "redis": "Redis storage is not available; use modelmesh.postgres.v1 for several replicas",
    ]

    mutating func decodeStorage(_ entry: Entry?) -> StorageConfiguration {
        var result = StorageConfiguration()
        guard var map = mapping(entry) else { return result }
        result.isConfigured = true
        // A storage section is meant to persist: the local file unless it says otherwise.
        result.connector = "modelmesh.local-file.v1"
        checkKeys(map, known: Self.storageKeys, unsupported: Self.unsupportedStorageKeys, in: "storage")
        for block in ["config", "persistence", "local-file"] {
            if let nested = mapping(map[block]) {
                checkKeys(
                    nested, known: Self.storageKeys.filter { !["config", "persistence", "local-file"].contains($0) },
                    unsupported: Self.unsupportedStorageKeys, in: "storage \(block)")
                map = map.removing([block]).merging(nested)
            }
        }
        if let field = map["connector"], let name = string(field) {
            let id = ConnectorID.normalize(name)
            if !ConnectorID.storageConnectors.contains(id) {
                let known = ConnectorID.storageConnectors.sorted()
                report(
                    .unknownConnector, at: field.path, "Unknown storage connector '\(name)'",
                    hint: NameSuggestion.hint(
                        for: id, in: known, otherwise: "Use one of: \(known.joined(separator: ", "))"),
                    mark: field.node.mark)
            }
            result.connector = id
        }
        if map["connector"] == nil, let field = map["sync_policy"], string(field) == SyncPolicy.inMemory.rawValue {
            result.connector = "modelmesh.memory.v1"
        }
        let isFile = result.connector == "modelmesh.local-file.v1"
        if let field = map.first("path", "file_path") {
            if isFile || !ConnectorID.storageConnectors.contains(result.connector) {
                result.path = string(field)
            } else {
                reportIneffective(field, of: result.connector, hint: "Only modelmesh.local-file.v1 writes a file")
            }
        }
        if result.connector == "modelmesh.postgres.v1" {
            decodePostgres(map, into: &result)
        } else {
            for key in Self.postgresKeys {
                if let field = map[key] {
                    reportIneffective(field, of: result.connector, hint: "Only modelmesh.postgres.v1 reads it")
                }
            }
        }
        if let field = map["sync_policy"] {
            result.syncPolicy = choice(field, SyncPolicy.self) ?? result.syncPolicy
            if isFile, result.syncPolicy == .inMemory, map["connector"] != nil {
                report(
                    .invalidValue, at: field.path, "sync_policy 'in-memory' never writes the state file",
                    hint: "Use sync-on-boundary, periodic or immediate, or drop the storage section",
                    mark: field.node.mark)
            }
        } else if isFile {
            // A file store with no policy is meant to persist: after every change, coalesced.
            result.syncPolicy = .immediate
        }
        if let field = map["sync_interval"] {
            result.syncInterval = duration(field) ?? result.syncInterval
            if result.syncPolicy != .periodic {
                report(
                    .invalidValue, at: field.path, "sync_interval applies only to sync_policy: periodic",
                    hint: "Set `sync_policy: periodic`, or remove sync_interval", mark: field.keyMark)
            }
        }
        return result
    }

    /// The connection and the availability policy of the shared PostgreSQL store. State is
    /// written as it changes, so `sync_policy` is `immediate`.
    mutating func decodePostgres(_ map: YAMLMapping, into result: inout StorageConfiguration) {
        var settings = PostgresStorageSettings()
        if let field = map["url"], let text = string(field) {
            if let parsed = PostgresStorageSettings.parse(url: text) {
                settings = parsed
            } else {
                report(
                    .invalidValue, at: field.path, "storage.url is not a PostgreSQL URL",
                    hint: "Write postgres://USER:PASSWORD@HOST:PORT/DATABASE (the password may be ${secrets:NAME})",
                    mark: field.node.mark)
            }
        }
        if let field = map["host"], let host = string(field) { settings.host = host }
        if let field = map["port"], let port = int(field, min: 1, max: 65535) { settings.port = port }
        if let field = map["user"], let user = string(field) { settings.user = user }
        if let field = map["password"], let password = string(field) { settings.password = password }
        if let field = map["database"], let database = string(field) { settings.database = database }
        if let field = map["tls"] { settings.tls = choice(field, PostgresStorageSettings.TLSMode.self) ?? settings.tls }
        if let field = map["schema"], let schema = string(field) {
            if schema.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) != nil {
                settings.schema = schema
            } else {
                report(
                    .invalidValue, at: field.path, "Schema name '\(schema)' is not a plain PostgreSQL identifier",
                    hint: "Use lowercase letters, digits and underscores, starting with a letter", mark: field.node.mark)
            }
        }
        if let field = map["pool_size"], let size = int(field, min: 2, max: 200) { settings.poolSize = size }
        result.postgres = settings
        if let field = map["on_unavailable"] {
            result.onUnavailable = choice(field, StorageUnavailablePolicy.self) ?? result.onUnavailable
        }
        if let lease = duration(
            map["lease"], atLeast: .seconds(1), minimumText: "1s",
            hint: "Use a few seconds or more: replicas renew it every third of it")
        {
            result.lease = lease
        }
        if let interval = duration(
            map["poll_interval"], atLeast: .milliseconds(50), minimumText: "50ms",
            hint: "Notifications arrive at once; the poll is a fallback, 1s by default")
        {
            result.pollInterval = interval
        }
        if let field = map["unavailable_ready_status"], let status = int(field) {
            if status == 200 || status == 503 {
                result.unavailableReadyStatus = status
            } else {
                report(
                    .invalidValue, at: field.path, "unavailable_ready_status must be 200 or 503",
                    hint: "200 keeps the replica in the load balancer with a degraded body; 503 takes it out",
                    mark: field.node.mark)
            }
        }
        if let field = map["sync_policy"], let policy = choice(field, SyncPolicy.self), policy != .immediate {
            report(
                .notSupported, at: field.path, "modelmesh.postgres.v1 writes every change as it happens",
                hint: "Remove sync_policy (or write `immediate`)", mark: field.node.mark)
        }
        result.syncPolicy = .immediate
    }

    // MARK: Discovery

    static let discoveryConnectors = ["modelmesh.registry-sync.v1", "modelmesh.health-monitor.v1"]
    static let syncKeys = [
        "enabled", "interval", "auto_register", "on_new_model", "on_deprecated_model", "providers", "capabilities",
    ]
    static let healthKeys = ["enabled", "interval", "failure_threshold"]
    static let unsupportedDiscoveryKeys = [
        "providers":
            "Every enabled provider is probed (`discovery.sync.providers` limits syncing only); "
            + "disable a provider with `enabled: false`",
        "timeout": "Each health probe is bounded by its provider's `timeout`; remove the key",
        "probe_method": "Health probes use each connector's own check; remove the key",
        "cache_ttl": "Listings are not cached; remove the key",
    ]

    mutating func decodeDiscovery(_ entry: Entry?, providers known: [String] = []) -> DiscoveryConfiguration {
        var result = DiscoveryConfiguration()
        guard let map = mapping(entry) else { return result }
        checkKeys(
            map, known: ["sync", "health", "connectors"],
            unsupported: [
                "connector": "Discovery is built in: configure `sync:` and `health:` (or a `connectors:` list of them)",
                "config": "Discovery is built in: configure `sync:` and `health:`",
                "instance": "Discovery is built in: configure `sync:` and `health:`",
            ], in: "discovery")
        var syncBlocks: [YAMLMapping] = []
        var healthBlocks: [YAMLMapping] = []
        if let sync = mapping(map["sync"]) { syncBlocks.append(sync) }
        if let health = mapping(map["health"]) { healthBlocks.append(health) }
        if let field = map["connectors"], let items = list(field) {
            for item in items {
                guard let itemMap = mapping(item.node, at: item.path) else { continue }
                let id = itemMap["connector"].flatMap { discoveryConnector($0) }
                if itemMap["sync"] != nil || itemMap["health"] != nil {
                    checkKeys(itemMap, known: ["connector", "sync", "health"], in: "discovery connector")
                    if let sync = mapping(itemMap["sync"]) { syncBlocks.append(sync) }
                    if let health = mapping(itemMap["health"]) { healthBlocks.append(health) }
                } else if id == "modelmesh.registry-sync.v1" {
                    syncBlocks.append(itemMap.removing(["connector"]))
                } else if id == "modelmesh.health-monitor.v1" {
                    healthBlocks.append(itemMap.removing(["connector"]))
                } else if itemMap["connector"] == nil {
                    report(
                        .missingValue, at: item.path,
                        "A discovery connector needs a 'connector' ID or a sync/health block",
                        hint: "Add `connector: modelmesh.health-monitor.v1` or `connector: modelmesh.registry-sync.v1`",
                        mark: item.node.mark)
                }
            }
        }
        for sync in syncBlocks {
            checkKeys(
                sync, known: Self.syncKeys, unsupported: Self.unsupportedDiscoveryKeys.filter { $0.key != "providers" },
                in: "discovery sync")
            // A present block is on unless it says otherwise.
            result.syncEnabled = bool(sync["enabled"]) ?? true
            result.syncInterval = duration(sync["interval"]) ?? result.syncInterval
            decodeSyncActions(sync, into: &result)
            if let names = strings(sync["providers"]) {
                for (name, entry) in names where !known.contains(name) {
                    report(
                        .undefinedReference, at: entry.path, "discovery.sync.providers names unknown provider '\(name)'",
                        hint: NameSuggestion.hint(for: name, in: known, otherwise: "Define '\(name)' under providers"),
                        mark: entry.node.mark)
                }
                result.syncProviders = names.map(\.value)
            }
            if let field = sync["capabilities"], let rules = list(field) {
                result.capabilityRules = rules.compactMap { decodeCapabilityRule($0, providers: known) }
            }
        }
        for health in healthBlocks {
            checkKeys(
                health, known: Self.healthKeys, unsupported: Self.unsupportedDiscoveryKeys, in: "discovery health")
            result.healthEnabled = bool(health["enabled"]) ?? true
            result.healthInterval = duration(health["interval"]) ?? result.healthInterval
            result.healthFailureThreshold = int(health["failure_threshold"], min: 1) ?? result.healthFailureThreshold
        }
        return result
    }

    /// `auto_register` / `on_new_model` (two spellings of one switch) and `on_deprecated_model`.
    private mutating func decodeSyncActions(_ sync: YAMLMapping, into result: inout DiscoveryConfiguration) {
        let auto = bool(sync["auto_register"])
        var onNew: Bool?
        if let entry = sync["on_new_model"], let (raw, value) = scalar(entry) {
            switch value.lowercased() {
            case "register": onNew = true
            case "notify": onNew = false
            default:
                report(
                    .invalidValue, at: entry.path, "Unknown on_new_model action '\(raw)'",
                    hint: "Use `register` (add new models to the pools of their capability) or `notify` (only report them)",
                    mark: entry.node.mark)
            }
        }
        if let auto, let onNew, auto != onNew, let entry = sync["on_new_model"] {
            report(
                .invalidValue, at: entry.path,
                "on_new_model: \(onNew ? "register" : "notify") contradicts auto_register: \(auto)",
                hint: "Keep one of the two keys", mark: entry.node.mark)
        }
        result.autoRegister = auto ?? onNew ?? false
        if let entry = sync["on_deprecated_model"], let (raw, value) = scalar(entry) {
            // `notify` is the reference name of `keep`: the change is reported either way.
            if let action = DeprecatedModelAction(rawValue: value == "notify" ? "keep" : value.lowercased()) {
                result.onDeprecatedModel = action
            } else {
                report(
                    .invalidValue, at: entry.path, "Unknown on_deprecated_model action '\(raw)'",
                    hint: "Use keep (or notify), deactivate or remove", mark: entry.node.mark)
            }
        }
    }

    /// One `discovery.sync.capabilities` entry: `{match: "gpt-*", capabilities: [chat-completion], provider: openai}`.
    private mutating func decodeCapabilityRule(_ item: Entry, providers known: [String]) -> DiscoveryCapabilityRule? {
        guard let map = mapping(item.node, at: item.path) else { return nil }
        checkKeys(map, known: ["match", "capabilities", "provider"], in: "discovery capability rule")
        guard let match = string(map["match"]), !match.isEmpty else {
            report(
                .missingValue, at: item.path, "A capability rule needs `match`, a model name pattern",
                hint: "For example `match: \"gpt-*\"`", mark: item.node.mark)
            return nil
        }
        let capabilities = (strings(map["capabilities"]) ?? []).compactMap { capabilityPath($0.value, entry: $0.entry) }
        guard !capabilities.isEmpty else {
            report(
                .missingValue, at: item.path, "The capability rule for '\(match)' names no capabilities",
                hint: "Add `capabilities: [chat-completion]`", mark: item.node.mark)
            return nil
        }
        var provider: String?
        if let entry = map["provider"], let name = string(entry) {
            if !known.contains(name) {
                report(
                    .undefinedReference, at: entry.path, "The capability rule names unknown provider '\(name)'",
                    hint: NameSuggestion.hint(for: name, in: known, otherwise: "Define '\(name)' under providers"),
                    mark: entry.node.mark)
            }
            provider = name
        }
        return DiscoveryCapabilityRule(match: match, capabilities: capabilities, provider: provider)
    }

    private mutating func discoveryConnector(_ entry: Entry) -> String? {
        guard let name = string(entry) else { return nil }
        let id = ConnectorID.normalize(name)
        if Self.discoveryConnectors.contains(id) { return id }
        report(
            .unknownConnector, at: entry.path, "Unknown discovery connector '\(name)'",
            hint: NameSuggestion.hint(
                for: id, in: Self.discoveryConnectors,
                otherwise: "Use one of: \(Self.discoveryConnectors.joined(separator: ", "))"),
            mark: entry.node.mark)
        return nil
    }

    // MARK: Proxy

    static let proxyKeys = [
        "host", "port", "auth", "tokens", "cors", "body_limit", "endpoints", "rate_limit", "shutdown_timeout",
        "limits",
    ]
    static let proxyLimitKeys = [
        "head_timeout", "idle_timeout", "body_timeout", "max_header_size", "max_headers", "max_connections",
        "max_upstream_body", "max_sse_event", "max_stream_duration",
    ]

    mutating func decodeProxy(_ entry: Entry?) -> ProxyConfiguration {
        var result = ProxyConfiguration()
        guard let map = mapping(entry) else { return result }
        checkKeys(map, known: Self.proxyKeys, in: "proxy")
        result.host = string(map["host"]) ?? result.host
        result.port = int(map["port"], min: 0, max: 65535) ?? result.port
        var tokens = map["tokens"]
        if let auth = mapping(map["auth"]) {
            checkKeys(auth, known: ["method", "tokens", "admin_tokens"], in: "proxy auth")
            if let values = strings(auth["admin_tokens"]) { result.adminTokens = values.map { Secret($0.value) } }
            onlySupported(
                auth["method"], values: ["bearer"], in: "proxy auth",
                hint: "Only bearer tokens are supported: remove `method` or set `method: bearer`")
            tokens = auth["tokens"] ?? tokens
        }
        if let values = strings(tokens) { result.tokens = values.map { Secret($0.value) } }
        if let cors = map["cors"] {
            var origins: Entry? = cors
            if case .mapping = cors.node, let corsMap = mapping(cors) {
                checkKeys(corsMap, known: ["origins"], in: "cors")
                origins = corsMap["origins"]
            }
            result.corsOrigins = strings(origins)?.map(\.value) ?? result.corsOrigins
        }
        result.bodyLimit = byteCount(map["body_limit"]) ?? result.bodyLimit
        result.endpoints = strings(map["endpoints"])?.map(\.value) ?? result.endpoints
        if let rateLimit = mapping(map["rate_limit"]) {
            checkKeys(rateLimit, known: ["requests_per_minute", "burst"], in: "proxy rate_limit")
            result.rateLimitPerMinute = int(rateLimit["requests_per_minute"], min: 0) ?? result.rateLimitPerMinute
            result.rateLimitBurst = int(rateLimit["burst"], min: 1) ?? result.rateLimitBurst
        }
        result.shutdownTimeout = duration(map["shutdown_timeout"]) ?? result.shutdownTimeout
        if let limits = mapping(map["limits"]) {
            checkKeys(limits, known: Self.proxyLimitKeys, in: "proxy limits")
            // A zero timeout would close every connection, a tiny head limit refuse every request.
            func timeout(_ key: String, _ current: Duration) -> Duration {
                guard let entry = limits[key], let value = duration(entry) else { return current }
                guard value > .zero else {
                    report(
                        .invalidValue, at: entry.path, "Must be longer than zero, got \(value)",
                        hint: "Write a duration such as 10s", mark: entry.node.mark)
                    return current
                }
                return value
            }
            result.limits.headTimeout = timeout("head_timeout", result.limits.headTimeout)
            result.limits.idleTimeout = timeout("idle_timeout", result.limits.idleTimeout)
            result.limits.bodyTimeout = timeout("body_timeout", result.limits.bodyTimeout)
            if let entry = limits["max_header_size"], let size = byteCount(entry) {
                if size < 256 {
                    report(
                        .invalidValue, at: entry.path, "Must be at least 256 bytes, got \(size)",
                        hint: "Write a size such as 32KB", mark: entry.node.mark)
                } else {
                    result.limits.maxHeaderSize = size
                }
            }
            result.limits.maxHeaders = int(limits["max_headers"], min: 1) ?? result.limits.maxHeaders
            result.limits.maxConnections = int(limits["max_connections"], min: 1) ?? result.limits.maxConnections
            // Upstream answers: an event or body under 1 KB would refuse ordinary answers.
            for (key, keyPath) in [("max_upstream_body", \ProxyConfiguration.Limits.maxUpstreamBody),
                ("max_sse_event", \ProxyConfiguration.Limits.maxSSEEvent)]
            {
                guard let entry = limits[key], let size = byteCount(entry) else { continue }
                guard size >= 1024 else {
                    report(
                        .invalidValue, at: entry.path, "Must be at least 1KB, got \(size) bytes",
                        hint: "Write a size such as 16MB", mark: entry.node.mark)
                    continue
                }
                result.limits[keyPath: keyPath] = size
            }
            if limits["max_stream_duration"] != nil {
                result.limits.maxStreamDuration = timeout("max_stream_duration", .zero)
                if result.limits.maxStreamDuration == .zero { result.limits.maxStreamDuration = nil }
            }
        }
        return result
    }
}

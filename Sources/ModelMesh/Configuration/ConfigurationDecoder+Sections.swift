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
        configuration.discovery = decodeDiscovery(document["discovery"])
        configuration.proxy = decodeProxy(document["proxy"])
        configuration.budget = decodeBudget(document["budget"])
        if let connectors = mapping(document["connectors"]) {
            // Connector packages are a Python feature; custom connectors register in code.
            checkKeys(connectors, known: ["packages"], in: "connectors")
            _ = strings(connectors["packages"])
        }
        return configuration
    }

    // MARK: Secrets

    private static let secretStoreAliases = ["modelmesh.memory-secrets.v1": "modelmesh.memory.v1"]

    /// The `secrets` section. `${secrets:...}` cannot be used here; `${NAME}` can.
    mutating func decodeSecrets(_ entry: Entry?) -> SecretsConfiguration {
        var result = SecretsConfiguration()
        guard var map = mapping(entry) else { return result }
        if let config = mapping(map["config"]) { map = map.removing(["config"]).merging(config) }
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
        result.path = string(map.first("path", "file_path"))
        if let values = mapping(map.first("values", "secrets")) {
            for value in values.entries {
                if let text = string(value) { result.values[value.key] = text }
            }
        }
        result.failOnMissing = bool(map["fail_on_missing"]) ?? result.failOnMissing
        return result
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

    mutating func decodeStorage(_ entry: Entry?) -> StorageConfiguration {
        var result = StorageConfiguration()
        guard var map = mapping(entry) else { return result }
        for block in ["config", "persistence", "local-file"] {
            if let nested = mapping(map[block]) { map = map.removing([block]).merging(nested) }
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
        result.path = string(map.first("path", "file_path"))
        result.syncPolicy = choice(map["sync_policy"], SyncPolicy.self) ?? result.syncPolicy
        result.syncInterval = duration(map["sync_interval"]) ?? result.syncInterval
        return result
    }

    // MARK: Observability

    private static let observabilityAliases = [
        "modelmesh.file.v1": "modelmesh.local-file.v1", "modelmesh.json-log.v1": "modelmesh.local-file.v1",
    ]
    /// Observability keys that are not settings of the top-level connector.
    private static let observabilityReserved: Set = [
        "connector", "config", "events", "routing", "connectors", "logging", "statistics", "tracing",
        "console", "local-file", "file", "json-log", "webhook", "prometheus", "callback", "null",
    ]

    /// Accepts `routing: {connector, events, ...settings}`, a `connectors:` list, the
    /// single-connector shape `{connector, events: {filter}, webhook: {...}}` and `{connector, config}`.
    mutating func decodeObservability(_ entry: Entry?) -> ObservabilityConfiguration {
        var result = ObservabilityConfiguration()
        guard let map = mapping(entry) else { return result }
        var receivers: [ObservabilityConnectorConfiguration] = []
        var channelOnly: [ObservabilityConnectorConfiguration] = []

        if let field = map["connector"], let id = observabilityConnector(field) {
            var settings = map.removing(Self.observabilityReserved)
            let block = id.replacingOccurrences(of: "modelmesh.", with: "").replacingOccurrences(of: ".v1", with: "")
            if let nested = mapping(map[block]) { settings = settings.merging(nested) }
            if let config = mapping(map["config"]) { settings = settings.merging(config) }
            receivers.append(
                .init(connector: id, events: eventFilter(map["events"]), settings: self.settings(settings)))
        }
        if let routing = mapping(map["routing"]) {
            receivers.append(connectorConfiguration(routing, defaultID: "modelmesh.console.v1", events: true))
        }
        if let field = map["connectors"], let items = list(field) {
            for item in items {
                guard let itemMap = mapping(item.node, at: item.path) else { continue }
                if itemMap["connector"] == nil {
                    report(
                        .missingValue, at: item.path, "An observability connector needs a 'connector' ID",
                        hint: "Add `connector: modelmesh.console.v1` (or another connector ID)", mark: item.node.mark)
                    continue
                }
                receivers.append(connectorConfiguration(itemMap, defaultID: "modelmesh.console.v1", events: true))
            }
        }
        if let logging = mapping(map["logging"]) {
            result.logLevel = choice(logging["level"], RequestLogLevel.self) ?? result.logLevel
            result.redactSecrets = bool(logging["redact_secrets"]) ?? result.redactSecrets
            _ = int(logging["max_payload_size"], min: 0)
            if logging["connector"] != nil {
                let channel = logging.removing(["level", "redact_secrets", "max_payload_size"])
                channelOnly.append(connectorConfiguration(channel, defaultID: "modelmesh.console.v1", events: false))
            }
        }
        if let statistics = mapping(map["statistics"]) {
            result.statisticsFlushInterval = duration(statistics["flush_interval"]) ?? result.statisticsFlushInterval
            _ = duration(statistics["retention"])
            if statistics["connector"] != nil {
                let channel = statistics.removing(["flush_interval", "retention", "scopes"])
                channelOnly.append(connectorConfiguration(channel, defaultID: "modelmesh.console.v1", events: false))
            }
        }
        if let tracing = mapping(map["tracing"]) {
            result.traceMinSeverity = choice(tracing["min_severity"], TraceSeverity.self) ?? result.traceMinSeverity
        }
        if receivers.isEmpty { receivers = result.connectors }
        result.connectors = receivers + channelOnly
        return result
    }

    /// One connector from its block: `connector`, `events`, `config`, and its own settings.
    /// A connector of a logging or statistics block receives no routing events (`events: []`).
    private mutating func connectorConfiguration(_ map: YAMLMapping, defaultID: String, events: Bool)
        -> ObservabilityConnectorConfiguration
    {
        let id = map["connector"].flatMap { observabilityConnector($0) } ?? defaultID
        var settings = map.removing(["connector", "events", "config"])
        if let config = mapping(map["config"]) { settings = settings.merging(config) }
        let filter: Set<EventType>? = events ? eventFilter(map["events"]) : []
        return .init(connector: id, events: filter, settings: self.settings(settings))
    }

    private mutating func observabilityConnector(_ entry: Entry) -> String? {
        guard let name = string(entry) else { return nil }
        let id = Self.observabilityAliases[ConnectorID.normalize(name)] ?? ConnectorID.normalize(name)
        guard ConnectorID.observabilityConnectors.contains(id) else {
            let known = ConnectorID.observabilityConnectors.sorted()
            report(
                .unknownConnector, at: entry.path, "Unknown observability connector '\(name)'",
                hint: NameSuggestion.hint(
                    for: id, in: known, otherwise: "Use one of: \(known.joined(separator: ", "))"),
                mark: entry.node.mark)
            return nil
        }
        return id
    }

    /// An event filter: a list of event types or categories, or `{filter: [...]}`; `nil` (all) when absent.
    private mutating func eventFilter(_ entry: Entry?) -> Set<EventType>? {
        guard var entry else { return nil }
        if case .mapping = entry.node {
            guard let map = mapping(entry.node, at: entry.path) else { return nil }
            checkKeys(map, known: ["filter", "include_metadata"], in: "events")
            _ = bool(map["include_metadata"])
            guard let filter = map["filter"] else { return nil }
            entry = filter
        }
        guard let names = strings(entry) else { return nil }
        var types: Set<EventType> = []
        let known =
            EventType.allCases.map(\.rawValue) + [
                "rotation", "deactivation", "recovery", "health", "membership", "discovery",
            ]
        for (name, element) in names {
            if name == "all" || name == "*" {
                types.formUnion(EventType.allCases)
            } else if let matched = EventType.matching(filterName: name) {
                types.formUnion(matched)
            } else {
                report(
                    .invalidValue, at: element.path, "Unknown event type '\(name)'",
                    hint: NameSuggestion.hint(
                        for: name, in: known, otherwise: "Use one of: \(known.joined(separator: ", "))"),
                    mark: element.node.mark)
            }
        }
        return types
    }

    // MARK: Discovery

    mutating func decodeDiscovery(_ entry: Entry?) -> DiscoveryConfiguration {
        var result = DiscoveryConfiguration()
        guard let map = mapping(entry) else { return result }
        var syncBlocks = [map["sync"]].compactMap { $0 }
        var healthBlocks = [map["health"]].compactMap { $0 }
        if let field = map["connectors"], let items = list(field) {
            for item in items {
                guard let itemMap = mapping(item.node, at: item.path) else { continue }
                let id = string(itemMap["connector"]).map(ConnectorID.normalize)
                if let sync = itemMap["sync"] {
                    syncBlocks.append(sync)
                } else if id == "modelmesh.registry-sync.v1" {
                    syncBlocks.append(item)
                }
                if let health = itemMap["health"] {
                    healthBlocks.append(health)
                } else if id == "modelmesh.health-monitor.v1" {
                    healthBlocks.append(item)
                }
            }
        }
        for block in syncBlocks {
            guard let sync = mapping(block) else { continue }
            // A present block is on unless it says otherwise.
            result.syncEnabled = bool(sync["enabled"]) ?? true
            result.syncInterval = duration(sync["interval"]) ?? result.syncInterval
        }
        for block in healthBlocks {
            guard let health = mapping(block) else { continue }
            result.healthEnabled = bool(health["enabled"]) ?? true
            result.healthInterval = duration(health["interval"]) ?? result.healthInterval
            result.healthTimeout = duration(health["timeout"]) ?? result.healthTimeout
            result.healthFailureThreshold = int(health["failure_threshold"], min: 1) ?? result.healthFailureThreshold
        }
        return result
    }

    // MARK: Proxy

    static let proxyKeys = [
        "host", "port", "auth", "tokens", "cors", "body_limit", "endpoints", "rate_limit", "shutdown_timeout",
    ]

    mutating func decodeProxy(_ entry: Entry?) -> ProxyConfiguration {
        var result = ProxyConfiguration()
        guard let map = mapping(entry) else { return result }
        checkKeys(map, known: Self.proxyKeys, in: "proxy")
        result.host = string(map["host"]) ?? result.host
        result.port = int(map["port"], min: 0, max: 65535) ?? result.port
        var tokens = map["tokens"]
        if let auth = mapping(map["auth"]) {
            checkKeys(auth, known: ["method", "tokens"], in: "proxy auth")
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
        return result
    }
}

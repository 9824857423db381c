import Foundation
import Yams

extension ConfigurationDecoder {
    private static let observabilityAliases = [
        "modelmesh.file.v1": "modelmesh.local-file.v1", "modelmesh.json-log.v1": "modelmesh.local-file.v1",
    ]
    /// Keys of `observability:` that are not settings of its top-level connector.
    private static let observabilitySections = [
        "connector", "config", "events", "channels", "routing", "connectors", "logging", "statistics", "tracing",
    ]
    /// The connector-named blocks of the single-connector shape, and the connector each configures.
    private static let connectorBlocks = [
        "console": "modelmesh.console.v1", "local-file": "modelmesh.local-file.v1", "file": "modelmesh.local-file.v1",
        "json-log": "modelmesh.local-file.v1", "webhook": "modelmesh.webhook.v1",
        "prometheus": "modelmesh.prometheus.v1", "callback": "modelmesh.callback.v1", "null": "modelmesh.null.v1",
    ]
    /// Keys of a connector entry that are not its settings.
    private static let connectorEntryKeys = ["connector", "events", "config", "channels"]

    /// The type of one connector setting, as the connector reads it.
    private enum SettingType {
        case text, bool, size, duration, url, headers
        case integer(min: Int)
        case severity(allowNone: Bool)
        case oneOf([String])
    }

    /// What a built-in observability connector reads from its settings.
    private struct ConnectorSchema {
        var settings: [String: SettingType] = [:]
        /// Documented settings it does not implement, with what to do instead.
        var unsupported: [String: String] = [:]
        /// Settings that only matter if the connector receives a channel.
        var channelOf: [String: ObservabilityChannel] = [:]
        var required: [String] = []
    }

    private static let connectorSchemas: [String: ConnectorSchema] = [
        "modelmesh.console.v1": ConnectorSchema(
            settings: [
                "target": .oneOf(["stdout", "stderr"]), "prefix": .text, "requests": .bool, "statistics": .bool,
                "min_severity": .severity(allowNone: true),
            ],
            unsupported: [
                "colorize": "Console lines are plain text; remove the key",
                "use_color": "Console lines are plain text; remove the key",
                "timestamp_format": "Lines start with the UTC time of day; remove the key",
                "show_timestamp": "Lines start with the UTC time of day; remove the key",
                "verbose": "Set `requests: true` and `statistics: true` to print those channels",
                "log_level": "Set the request log level with observability.logging.level",
                "redact_secrets": "Set redaction with observability.logging.redact_secrets",
                "event_filter": "Filter events with `events:`",
            ],
            channelOf: ["requests": .logs, "statistics": .statistics, "min_severity": .traces]),
        "modelmesh.local-file.v1": ConnectorSchema(
            settings: [
                "path": .text, "max_size": .size, "max_files": .integer(min: 0), "buffer_size": .integer(min: 1),
                "min_severity": .severity(allowNone: false),
            ],
            unsupported: [
                "file_path": "Use `path`",
                "rotation": "Files rotate by size (`max_size`, `max_files`); remove the key",
                "append": "The file is always appended to; remove the key",
                "flush_each_line": "Lines are written in the background as they come; remove the key",
                "max_file_size_bytes": "Use `max_size`",
                "max_size_mb": "Use `max_size`, e.g. `max_size: 10MB`",
                "log_level": "Set the request log level with observability.logging.level",
                "redact_secrets": "Set redaction with observability.logging.redact_secrets",
            ],
            channelOf: ["min_severity": .traces]),
        "modelmesh.webhook.v1": ConnectorSchema(
            settings: [
                "url": .url, "headers": .headers, "batch_size": .integer(min: 1), "retry_count": .integer(min: 0),
                "timeout": .duration, "flush_interval": .duration, "max_queue": .integer(min: 1),
            ],
            unsupported: [
                "content_type": "Batches are sent as application/json; remove the key",
                "method": "Batches are sent with POST; remove the key",
                "min_severity": "The webhook sends routing events only; filter them with `events:`",
                "timeout_seconds": "Use `timeout`, e.g. `timeout: 10s`",
            ],
            required: ["url"]),
        "modelmesh.prometheus.v1": ConnectorSchema(),
        "modelmesh.null.v1": ConnectorSchema(),
    ]

    /// Accepts `routing: {connector, events, ...settings}`, a `connectors:` list, the
    /// single-connector shape `{connector, events: {filter}, webhook: {...}}`, `{connector, config}`,
    /// and a connector of their own under `logging:`, `statistics:` and `tracing:`.
    mutating func decodeObservability(_ entry: Entry?) -> ObservabilityConfiguration {
        var result = ObservabilityConfiguration()
        guard let map = mapping(entry) else { return result }
        var receivers: [ObservabilityConnectorConfiguration] = []
        var channelOnly: [ObservabilityConnectorConfiguration] = []

        let blockNames = Array(Self.connectorBlocks.keys)
        if let field = map["connector"] {
            if let id = observabilityConnector(field) {
                var settings = map.removing(Set(Self.observabilitySections + blockNames))
                for block in map.entries where Self.connectorBlocks[block.key] != nil {
                    if Self.connectorBlocks[block.key] == id {
                        if let nested = mapping(block) { settings = settings.merging(nested) }
                    } else {
                        report(
                            .invalidValue, at: block.path,
                            "Block '\(block.key)' configures \(Self.connectorBlocks[block.key] ?? ""), "
                                + "but the connector here is \(id)",
                            hint: "Configure that connector as an entry of observability.connectors",
                            mark: block.keyMark)
                    }
                }
                if let config = mapping(map["config"]) { settings = settings.merging(config) }
                if let built = connectorEntry(
                    settings, id: id, at: map.path, events: map["events"], channels: map["channels"],
                    defaultChannels: Set(ObservabilityChannel.allCases))
                {
                    receivers.append(built)
                }
            }
        } else {
            for entry in map.entries where !Self.observabilitySections.contains(entry.key) {
                if let id = Self.connectorBlocks[entry.key] {
                    report(
                        .missingValue, at: entry.path,
                        "Block '\(entry.key)' configures \(id), but observability has no `connector:`",
                        hint:
                            "Add `connector: \(id)` beside it, or configure the connector under observability.routing",
                        mark: entry.keyMark)
                } else {
                    let known = Self.observabilitySections
                    report(
                        .unknownKey, at: entry.path, "Unknown key '\(entry.key)' in observability",
                        hint: NameSuggestion.hint(
                            for: entry.key, in: known + blockNames,
                            otherwise: "Known keys: \(known.joined(separator: ", "))"),
                        mark: entry.keyMark)
                }
            }
            for key in ["events", "config", "channels"] {
                guard let field = map[key] else { continue }
                report(
                    .missingValue, at: field.path, "'\(key)' configures the top-level connector, but none is set",
                    hint: key == "events"
                        ? "Put `events:` under observability.routing (or beside a `connector:` here)"
                        : "Add `connector:` beside it", mark: field.keyMark)
            }
        }
        if let routing = mapping(map["routing"]) {
            if let built = connectorEntry(
                routing.removing(Set(Self.connectorEntryKeys)), id: connectorID(routing) ?? "modelmesh.console.v1",
                at: routing.path, events: routing["events"], channels: routing["channels"], config: routing["config"],
                defaultChannels: [.events])
            {
                receivers.append(built)
            }
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
                guard let id = connectorID(itemMap) else { continue }
                if let built = connectorEntry(
                    itemMap.removing(Set(Self.connectorEntryKeys)), id: id, at: item.path, events: itemMap["events"],
                    channels: itemMap["channels"], config: itemMap["config"], defaultChannels: [.events])
                {
                    receivers.append(built)
                }
            }
        }
        if let logging = mapping(map["logging"]) {
            result.logLevel = choice(logging["level"], RequestLogLevel.self) ?? result.logLevel
            result.redactSecrets = bool(logging["redact_secrets"]) ?? result.redactSecrets
            result.maxPayloadSize = byteCount(logging["max_payload_size"]) ?? result.maxPayloadSize
            let own = ["level", "redact_secrets", "max_payload_size"]
            channelOnly += channelConnector(logging, own: own, channel: .logs, what: "observability.logging")
        }
        if let statistics = mapping(map["statistics"]) {
            result.statisticsFlushInterval = duration(statistics["flush_interval"]) ?? result.statisticsFlushInterval
            if let field = statistics["scopes"] {
                result.statisticsScopes = statisticsScopes(field) ?? result.statisticsScopes
            }
            if let field = statistics["retention"] {
                reportNotSupported(
                    field, in: "observability.statistics",
                    hint: "Statistics cover the time since start-up and are not stored; remove the key")
            }
            let own = ["flush_interval", "scopes", "retention"]
            channelOnly += channelConnector(
                statistics, own: own, channel: .statistics, what: "observability.statistics")
        }
        if let tracing = mapping(map["tracing"]), !decodeTraceExport(tracing, into: &result) {
            result.traceMinSeverity = choice(tracing["min_severity"], TraceSeverity.self) ?? result.traceMinSeverity
            channelOnly += channelConnector(
                tracing, own: ["min_severity"], channel: .traces, what: "observability.tracing")
        }
        if receivers.isEmpty { receivers = result.connectors }
        result.connectors = receivers + channelOnly
        return result
    }

    /// The connector of a `logging:`, `statistics:` or `tracing:` block, if it names one: it
    /// receives that block's channel only (unless it lists `channels:`) and no routing events.
    private mutating func channelConnector(
        _ map: YAMLMapping, own: [String], channel: ObservabilityChannel, what: String
    ) -> [ObservabilityConnectorConfiguration] {
        guard map["connector"] != nil else {
            let known = own + ["connector"]
            let settingNames = Set(Self.connectorSchemas.values.flatMap(\.settings.keys) + Self.connectorEntryKeys)
            for entry in map.entries where !own.contains(entry.key) {
                report(
                    .unknownKey, at: entry.path, "Unknown key '\(entry.key)' in \(what)",
                    hint: settingNames.contains(entry.key)
                        ? "'\(entry.key)' is a connector setting: add `connector:` here to send this channel to a "
                            + "connector of its own"
                        : NameSuggestion.hint(
                            for: entry.key, in: known, otherwise: "Known keys: \(known.joined(separator: ", "))"),
                    mark: entry.keyMark)
            }
            return []
        }
        guard let id = connectorID(map) else { return [] }
        let settings = map.removing(Set(own + Self.connectorEntryKeys))
        if let events = map["events"] {
            report(
                .invalidValue, at: events.path,
                "'events' has no effect here: this connector receives no routing events",
                hint: "Filter events under observability.routing", mark: events.keyMark)
        }
        guard
            var built = connectorEntry(
                settings, id: id, at: map.path, events: nil, channels: map["channels"], config: map["config"],
                defaultChannels: [channel])
        else { return [] }
        built.events = []
        return [built]
    }

    /// The normalized, known connector ID of a connector entry, or `nil` (reported).
    private mutating func connectorID(_ map: YAMLMapping) -> String? {
        guard let field = map["connector"] else { return nil }
        return observabilityConnector(field)
    }

    /// One connector: its settings checked against what the connector reads, its channels and
    /// its event filter.
    private mutating func connectorEntry(
        _ settings: YAMLMapping, id: String, at path: String, events: Entry?, channels: Entry?, config: Entry? = nil,
        defaultChannels: Set<ObservabilityChannel>
    ) -> ObservabilityConnectorConfiguration? {
        var settings = settings
        if let config = mapping(config) { settings = settings.merging(config) }
        if id == CallbackConnector.id {
            report(
                .notSupported, at: Self.path(path, "connector"),
                "Connector \(id) is not supported yet in a configuration file",
                hint: "It wraps a Swift closure: subscribe a CallbackConnector to mesh.events in code",
                mark: settings.mark)
            return nil
        }
        var received = defaultChannels
        if let field = channels, let parsed = channelList(field) {
            received = parsed
        } else if channels == nil, id == "modelmesh.prometheus.v1" {
            // Metrics come from request logs and traces as well as events; Prometheus writes no lines.
            received = Set(ObservabilityChannel.allCases)
        }
        let filter = eventFilter(events)
        if let events, !received.contains(.events) {
            reportIneffective(
                events, of: "a connector without the events channel", hint: "Add `events` to its channels")
        }
        checkSettings(settings, connector: id, channels: received)
        var values = self.settings(settings)
        // A console given request logs or statistics on purpose prints them (its own default is off).
        if id == ConsoleConnector.id, received != Set(ObservabilityChannel.allCases) || channels != nil {
            if received.contains(.logs), values["requests"] == nil { values["requests"] = .bool(true) }
            if received.contains(.statistics), values["statistics"] == nil { values["statistics"] = .bool(true) }
        }
        return .init(connector: id, events: filter, settings: values, channels: received)
    }

    /// The values a list of names spells, each unknown name reported at its element with the
    /// nearest known one.
    private mutating func namedSet<Value: Hashable>(
        _ names: [(value: String, entry: Entry)], what: String, known: [String], _ parse: (String) -> Value?
    ) -> Set<Value> {
        var result: Set<Value> = []
        for (name, element) in names {
            if let value = parse(name) {
                result.insert(value)
            } else {
                report(
                    .invalidValue, at: element.path, "Unknown \(what) '\(name)'",
                    hint: NameSuggestion.hint(
                        for: name, in: known, otherwise: "Use one of: \(known.joined(separator: ", "))"),
                    mark: element.node.mark)
            }
        }
        return result
    }

    /// A `channels:` list.
    private mutating func channelList(_ entry: Entry) -> Set<ObservabilityChannel>? {
        guard let names = strings(entry) else { return nil }
        let known = ObservabilityChannel.allCases.map(\.rawValue)
        let channels = namedSet(names, what: "channel", known: known) { ObservabilityChannel(name: $0) }
        guard !names.isEmpty else {
            report(
                .invalidValue, at: entry.path, "A connector needs at least one channel",
                hint: "List some of: \(known.joined(separator: ", "))", mark: entry.node.mark)
            return nil
        }
        return channels.isEmpty ? nil : channels
    }

    /// `statistics.scopes`: some of `model`, `provider`, `pool`.
    private mutating func statisticsScopes(_ entry: Entry) -> Set<StatisticsScopeKind>? {
        guard let names = strings(entry) else { return nil }
        let known = StatisticsScopeKind.allCases.map(\.rawValue)
        let scopes = namedSet(names, what: "statistics scope", known: known) { name in
            StatisticsScopeKind(rawValue: (name.hasSuffix("s") ? String(name.dropLast()) : name).lowercased())
        }
        if names.isEmpty {
            report(
                .invalidValue, at: entry.path, "statistics.scopes lists no scope",
                hint: "List some of: \(known.joined(separator: ", "))", mark: entry.node.mark)
        }
        return scopes.isEmpty ? nil : scopes
    }

    /// Checks a connector's settings: unknown keys (with suggestions), documented keys it does
    /// not implement, settings of a channel it does not receive, and each value's type.
    private mutating func checkSettings(
        _ settings: YAMLMapping, connector id: String, channels: Set<ObservabilityChannel>
    ) {
        guard let schema = Self.connectorSchemas[id] else { return }
        let known = schema.settings.keys.sorted()
        let what = "connector \(id)"
        for entry in settings.entries where schema.settings[entry.key] == nil {
            if let hint = schema.unsupported[entry.key] {
                reportNotSupported(entry, in: what, hint: hint)
            } else {
                report(
                    .unknownKey, at: entry.path, "Unknown setting '\(entry.key)' of \(what)",
                    hint: known.isEmpty
                        ? "\(id) has no settings; remove the key"
                        : NameSuggestion.hint(
                            for: entry.key, in: known, otherwise: "Its settings are: \(known.joined(separator: ", "))"),
                    mark: entry.keyMark)
            }
        }
        for key in schema.required where settings[key] == nil {
            report(
                .missingValue, at: settings.path, "\(id) needs '\(key)'",
                hint: key == "url" ? "Add `url: https://...` (the endpoint receiving the batches)" : "Add `\(key):`",
                mark: settings.mark)
        }
        for entry in settings.entries {
            guard let type = schema.settings[entry.key] else { continue }
            if let channel = schema.channelOf[entry.key], !channels.contains(channel) {
                reportIneffective(
                    entry, of: "a connector without the \(channel.rawValue) channel",
                    hint: "Add `\(channel.rawValue)` to its `channels:`, or configure the connector under "
                        + (channel == .logs
                            ? "observability.logging"
                            : channel == .traces ? "observability.tracing" : "observability.statistics"))
            }
            checkSetting(entry, type)
        }
    }

    /// Checks one setting's value against its type, quoting the file text only.
    private mutating func checkSetting(_ entry: Entry, _ type: SettingType) {
        func invalid(_ expected: String, _ hint: String) {
            report(
                .invalidValue, at: entry.path, "Setting '\(entry.key)' must be \(expected)", hint: hint,
                mark: entry.node.mark)
        }
        // Typed from the node itself so no reference is resolved twice (strings are not checked
        // for content beyond their shape, which needs no resolution).
        let text: String? =
            if case .scalar(let scalar) = entry.node, !Self.isNull(entry.node) { scalar.string } else { nil }
        switch type {
        case .text:
            if text == nil, !Self.isNull(entry.node) { invalid("a string", "Write a plain value") }
        case .bool:
            guard let text, ["true", "false", "yes", "no", "on", "off"].contains(text.lowercased()) else {
                return invalid("true or false", "Write true or false")
            }
        case .integer(let min):
            guard let text, let number = Int(text), number >= min else {
                return invalid("a whole number of at least \(min)", "Write for example \(max(min, 1))")
            }
        case .size:
            guard let text, ObservabilityConnectorConfiguration.parseByteSize(text) != nil else {
                return invalid("a size", "Write bytes or a size such as 10MB")
            }
        case .duration:
            guard let text, let parsed = DurationParser.parse(text), parsed > .zero else {
                return invalid("a positive duration", "Write for example 500ms, 2s or 1m")
            }
        case .url:
            guard let text else { return invalid("a URL", "Write for example https://hooks.example.com/mesh") }
            // The scheme is checked on the text as written: a reference (`${...}`) is left to the connector.
            let lowered = text.lowercased()
            if !text.hasPrefix("${"), !(lowered.hasPrefix("http://") || lowered.hasPrefix("https://")) {
                invalid("an http or https URL", "Write for example https://hooks.example.com/mesh")
            }
        case .headers:
            guard case .mapping(let headers) = entry.node,
                headers.allSatisfy({ if case .scalar = $0.value { true } else { false } })
            else {
                return invalid("a mapping of header names to values", "Write for example `headers: {X-Team: platform}`")
            }
        case .severity(let allowNone):
            let names = TraceSeverity.allCases.map(\.rawValue) + (allowNone ? ["none"] : [])
            guard let text, names.contains(text.lowercased()) else {
                return invalid(
                    "one of \(names.joined(separator: ", "))",
                    NameSuggestion.hint(
                        for: text ?? "", in: names, otherwise: "Use one of \(names.joined(separator: ", "))"))
            }
        case .oneOf(let names):
            guard let text, names.contains(text) else {
                return invalid("one of \(names.joined(separator: ", "))", "Use one of \(names.joined(separator: ", "))")
            }
        }
    }

    private mutating func observabilityConnector(_ entry: Entry) -> String? {
        guard let name = string(entry) else { return nil }
        let id = Self.observabilityAliases[ConnectorID.normalize(name)] ?? ConnectorID.normalize(name)
        guard ConnectorID.observabilityConnectors.contains(id) else {
            if id == TraceExportConfiguration.connectorID {
                report(
                    .invalidValue, at: entry.path, "Connector \(id) exports traces and is configured on its own",
                    hint: "Move it to observability.tracing: {connector: \(id), endpoint: ...}", mark: entry.node.mark)
                return nil
            }
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
            onlySupported(
                map["include_metadata"], values: ["true", "yes", "on"], in: "events",
                hint: "Events always carry their metadata: remove the key or set `include_metadata: true`")
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
}

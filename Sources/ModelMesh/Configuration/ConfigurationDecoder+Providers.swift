import Yams

extension ConfigurationDecoder {
    /// Keys every provider understands.
    static let providerKeys = [
        "connector", "enabled", "api_key", "base_url", "timeout", "headers", "budget", "auth", "config",
    ]
    /// Connector-specific provider keys, passed through as settings: the keys each family of
    /// built-in connectors reads. A key added to a connector must be added here too.
    static let providerSettingKeys: [(family: String, keys: [String])] = [
        ("openai-compatible", ["organization", "project", "http_referer", "x_title", "stream_usage"]),
        ("anthropic", ["anthropic_version", "anthropic_beta", "max_tokens"]),
        ("gemini", ["max_tokens", "safety_settings"]),
    ]
    /// Documented provider keys that are not implemented, with what to do instead.
    static let unsupportedProviderKeys = [
        "instance": "Register a provider instance in Swift with ProviderRegistry",
        "max_retries": "Retries are set per pool: use `retry.max_attempts`",
        "execution": "Write base_url and timeout directly under the provider",
        "catalogue": "Declare models under `models:`; `discovery.sync` reports new and deprecated models",
        "quota": "Quota queries are not available; cap usage with a pool's deactivation.request_limit or token_limit",
        "discovery": "Use the top-level `discovery:` section",
        "batch": "Batch APIs are not available",
        "files": "File APIs are not available",
        "fine_tuning": "Fine-tuning APIs are not available",
        "infrastructure": "Batch, file and fine-tuning APIs are not available",
        "error": "Set retryable statuses per pool: `retry.retryable_codes`",
        "pricing": "Set prices per model: `models.<id>.pricing`",
        "models": "Declare models under the top-level `models:` section with `provider: <id>`",
        "capabilities": "Set capabilities per model: `models.<id>.capabilities`",
        "context_window": "Set it per model: `models.<id>.constraints.context_window`",
        "region": "Set the regional endpoint with `base_url`",
        "voice": "Speech endpoints are not available",
        "language": "Speech endpoints are not available",
        "output_format": "Speech endpoints are not available",
    ]
    static let providerAuthKeys = ["method", "api_key"]
    static let modelKeys = [
        "provider", "name", "capabilities", "delivery", "features", "constraints", "pricing", "budget",
        "context_window", "max_output_tokens",
    ]
    static let unsupportedModelKeys = [
        "batch": "Batch delivery is not available; remove the key"
    ]
    static let constraintKeys = ["context_window", "max_output_tokens"]
    static let unsupportedConstraintKeys = [
        "max_images": "Image counts are not checked; remove the key",
        "max_file_size": "File inputs are not checked; remove the key",
        "supported_languages": "Languages are not checked; remove the key",
    ]
    static let pricingKeys = [
        "input_per_1m", "output_per_1m", "input", "output", "input_per_1k_tokens", "output_per_1k_tokens",
        "input_per_1k", "output_per_1k", "cached_input_per_1m", "cache_write_per_1m", "per_request", "currency",
    ]
    /// Feature names documented for the original system that no request needs.
    static let unsupportedFeatureNames = ["grounding", "fine_tunable"]

    /// The family of a provider connector, as ``providerSettingKeys`` names it.
    static func settingFamily(ofConnector id: String) -> String {
        switch id {
        case "anthropic.claude.v1", "anthropic.llm.v1": "anthropic"
        case "google.gemini.v1": "gemini"
        default: "openai-compatible"
        }
    }

    // MARK: Providers

    /// Providers from a map keyed by provider id (or a list whose entries name their `connector`).
    mutating func decodeProviders(_ entry: Entry?) -> [ProviderConfiguration] {
        guard let entry else { return [] }
        var items: [(id: String, node: Node, path: String, mark: Mark?)] = []
        if case .sequence = entry.node {
            for element in list(entry) ?? [] {
                guard let map = mapping(element.node, at: element.path) else { continue }
                guard let id = string(map.first("id", "connector")) else {
                    report(
                        .missingValue, at: element.path, "A provider in list form needs a 'connector'",
                        hint: "Add `connector: <id>`, or write providers as a mapping keyed by provider id",
                        mark: element.node.mark)
                    continue
                }
                items.append((id, element.node, element.path, element.keyMark))
            }
        } else if let map = mapping(entry.node, at: entry.path) {
            items = map.entries.map { ($0.key, $0.node, $0.path, $0.keyMark) }
        }
        return items.compactMap { decodeProvider(id: $0.id, node: $0.node, path: $0.path, mark: $0.mark) }
    }

    private mutating func decodeProvider(id: String, node: Node, path: String, mark: Mark?) -> ProviderConfiguration? {
        guard var map = mapping(node, at: path) else { return nil }
        if let config = mapping(map["config"]) {
            // Flat keys and the nested `config:` map are one set of settings; `config` wins.
            map = map.removing(["config"]).merging(config)
        }
        map = map.removing(["id"])

        var provider = ProviderConfiguration(
            id: id, connector: providerConnector(id: id, map: map, path: path, mark: mark))
        provider.baseURL = string(map["base_url"])
        provider.timeout = duration(map["timeout"])
        provider.enabled = bool(map["enabled"]) ?? true
        provider.budget = decodeBudget(map["budget"])
        let auth = mapping(map["auth"])
        if let auth {
            checkKeys(
                auth, known: Self.providerAuthKeys,
                unsupported: ["key_rotation": "Keys are not rotated automatically; reload the configuration instead"],
                in: "provider auth")
            onlySupported(
                auth["method"], values: ["api_key"], in: "provider auth",
                hint: "Only API keys are supported: remove `method` or set `method: api_key`")
        }
        provider.apiKey = secret(map["api_key"] ?? auth?["api_key"])
        if let headers = mapping(map["headers"]) {
            for header in headers.entries {
                if let value = string(header) { provider.headers[header.key] = Secret(value) }
            }
        }
        let family = Self.settingFamily(ofConnector: provider.connector)
        let settingKeys = Self.providerSettingKeys.first { $0.family == family }?.keys ?? []
        let otherFamilies = Self.providerSettingKeys.filter { $0.family != family }
        let known = Self.providerKeys + settingKeys
        for entry in map.entries where !Self.providerKeys.contains(entry.key) {
            if settingKeys.contains(entry.key) {
                provider.settings[entry.key] = json(entry.node, at: entry.path)
            } else if let hint = Self.unsupportedProviderKeys[entry.key] {
                reportNotSupported(entry, in: "provider '\(id)'", hint: hint)
            } else if let owner = otherFamilies.first(where: { $0.keys.contains(entry.key) }) {
                report(
                    .notSupported, at: entry.path,
                    "Key '\(entry.key)' has no effect on connector \(provider.connector) (provider '\(id)')",
                    hint: "It applies to \(owner.family) providers; remove it here", mark: entry.keyMark)
            } else {
                report(
                    .unknownKey, at: entry.path, "Unknown key '\(entry.key)' in provider '\(id)'",
                    hint: NameSuggestion.hint(
                        for: entry.key, in: known, otherwise: "Known keys: \(known.joined(separator: ", "))"),
                    mark: entry.keyMark)
            }
        }
        return provider
    }

    /// The normalized connector ID: `connector`, else the provider id; a bare vendor name
    /// (`openai`) maps to that vendor's connector.
    private mutating func providerConnector(id: String, map: YAMLMapping, path: String, mark: Mark?) -> String {
        let explicit = map["connector"]
        let name = ConnectorID.normalize(string(explicit) ?? id)
        if ConnectorID.providerConnectors.contains(name) { return name }
        if let vendor = ProviderAutoDetection.connector(forVendor: name) { return vendor }
        let suggestion = NameSuggestion.nearest(to: name, in: ConnectorID.providerConnectors.sorted())
        let listed = ConnectorID.providerConnectors.sorted().joined(separator: ", ")
        if explicit != nil {
            report(
                .unknownConnector, at: Self.path(path, "connector"), "Unknown provider connector '\(name)'",
                hint: suggestion.map { "Did you mean '\($0)'?" } ?? "Use one of: \(listed)",
                mark: explicit?.node.mark)
        } else {
            report(
                .unknownConnector, at: path,
                "Provider '\(id)' has no 'connector' and its id is not a provider connector ID",
                hint: "Add `connector: \(suggestion ?? "openai.llm.v1")` (built in: \(listed))", mark: mark)
        }
        return name
    }

    // MARK: Models

    mutating func decodeModels(_ entry: Entry?, providers: [ProviderConfiguration]) -> [ModelConfiguration] {
        guard let map = mapping(entry) else { return [] }
        return map.entries.compactMap { decodeModel($0, providers: providers) }
    }

    private mutating func decodeModel(_ entry: Entry, providers: [ProviderConfiguration]) -> ModelConfiguration? {
        let id = entry.key
        guard let map = mapping(entry.node, at: entry.path) else { return nil }
        checkKeys(map, known: Self.modelKeys, unsupported: Self.unsupportedModelKeys, in: "model '\(id)'")

        let provider = modelProvider(id: id, map: map, entry: entry, providers: providers)
        var model = ModelConfiguration(id: id, name: string(map["name"]), provider: provider)
        if let names = strings(map["capabilities"]) {
            model.capabilities = names.compactMap { capabilityPath($0.value, entry: $0.entry) }
        }
        if let delivery = map["delivery"] { model.delivery = decodeDelivery(delivery) }
        if let features = map["features"] { model.features = decodeFeatures(features) }
        let constraints = mapping(map["constraints"])
        if let constraints {
            checkKeys(
                constraints, known: Self.constraintKeys, unsupported: Self.unsupportedConstraintKeys,
                in: "model constraints")
        }
        model.contextWindow = int(constraints?["context_window"] ?? map["context_window"], min: 1)
        model.maxOutputTokens = int(constraints?["max_output_tokens"] ?? map["max_output_tokens"], min: 1)
        model.pricing = decodePricing(map["pricing"])
        model.budget = decodeBudget(map["budget"])
        return model
    }

    private mutating func modelProvider(
        id: String, map: YAMLMapping, entry: Entry, providers: [ProviderConfiguration]
    ) -> String {
        let ids = providers.map(\.id)
        if let field = map["provider"], let name = string(field) {
            if !ids.contains(name) {
                report(
                    .undefinedReference, at: field.path, "Model '\(id)' references unknown provider '\(name)'",
                    hint: NameSuggestion.hint(for: name, in: ids, otherwise: "Define '\(name)' under providers"),
                    mark: field.node.mark)
            }
            return name
        }
        // Without `provider`, the vendor prefix of the id names it: a provider with that id,
        // or the only provider whose connector belongs to that vendor.
        let vendor = id.split(separator: ".", maxSplits: 1).first.map(String.init) ?? id
        if ids.contains(vendor) { return vendor }
        let candidates = providers.filter { $0.connector.hasPrefix(vendor + ".") }
        if candidates.count == 1 { return candidates[0].id }
        report(
            .missingValue, at: entry.path, "Model '\(id)' has no provider",
            hint:
                "Add `provider: <id>` naming one of: \(ids.isEmpty ? "(no providers defined)" : ids.joined(separator: ", "))",
            mark: entry.keyMark)
        return ""
    }

    /// The full path of a capability alias or dotted path; unknown bare names are reported.
    mutating func capabilityPath(_ name: String, entry: Entry) -> String? {
        let tree = CapabilityTree.standard
        if let path = tree.canonicalPath(name) { return path }
        // The tree is open: any dotted path is a capability of its own.
        if name.contains("."), !name.hasPrefix("."), !name.hasSuffix("."), !name.contains("..") { return name }
        let names =
            tree.aliases.keys.sorted() + tree.allLeaves.compactMap { $0.split(separator: ".").last.map(String.init) }
        report(
            .unknownCapability, at: entry.path, "Unknown capability '\(name)'",
            hint: NameSuggestion.hint(
                for: name, in: names,
                otherwise:
                    "Use an alias (\(tree.aliases.keys.sorted().prefix(6).joined(separator: ", ")), ...) or a dotted path"
            ),
            mark: entry.node.mark)
        return nil
    }

    private mutating func decodeDelivery(_ entry: Entry) -> DeliveryModes {
        var modes = DeliveryModes()
        if case .sequence = entry.node {
            let names = (strings(entry) ?? [])
            modes = DeliveryModes(synchronous: false, streaming: false, batch: false)
            for (name, element) in names {
                switch name {
                case "synchronous", "sync": modes.synchronous = true
                case "streaming", "stream": modes.streaming = true
                case "batch":
                    report(
                        .notSupported, at: element.path, "Batch delivery is not supported yet",
                        hint: "Remove `batch` from the delivery modes", mark: element.node.mark)
                default:
                    report(
                        .invalidValue, at: element.path, "Unknown delivery mode '\(name)'",
                        hint: "Use synchronous, streaming or batch", mark: element.node.mark)
                }
            }
            return modes
        }
        guard let map = mapping(entry.node, at: entry.path) else { return modes }
        checkKeys(map, known: ["synchronous", "streaming", "batch"], in: "delivery")
        modes.synchronous = bool(map["synchronous"]) ?? modes.synchronous
        modes.streaming = bool(map["streaming"]) ?? modes.streaming
        onlySupported(
            map["batch"], values: ["false", "no", "off"], in: "delivery",
            hint: "Batch delivery is not available; remove the key or set `batch: false`")
        return modes
    }

    /// Features as a mapping (`vision: true`) or a list of names (`[vision, tool_calling]`).
    private mutating func decodeFeatures(_ entry: Entry) -> ModelFeatures {
        var flags: [(name: String, enabled: Bool, entry: Entry)] = []
        if case .sequence = entry.node {
            flags = (strings(entry) ?? []).map { ($0.value, true, $0.entry) }
        } else if let map = mapping(entry.node, at: entry.path) {
            flags = map.entries.compactMap { field in bool(field).map { (field.key, $0, field) } }
        }
        var features: ModelFeatures = []
        let known = ModelFeatures.names.keys.sorted()
        for flag in flags {
            if let feature = ModelFeatures.names[flag.name] {
                if flag.enabled { features.insert(feature) }
            } else if Self.unsupportedFeatureNames.contains(flag.name) {
                if flag.enabled {
                    report(
                        .notSupported, at: flag.entry.path, "Feature '\(flag.name)' is not supported yet",
                        hint: "No request asks for it, so it has no effect; remove it", mark: flag.entry.keyMark)
                }
            } else {
                report(
                    .unknownKey, at: flag.entry.path, "Unknown feature '\(flag.name)'",
                    hint: NameSuggestion.hint(
                        for: flag.name, in: known, otherwise: "Known features: \(known.joined(separator: ", "))"),
                    mark: flag.entry.keyMark)
            }
        }
        return features
    }

    private mutating func decodePricing(_ entry: Entry?) -> ModelPricing? {
        guard let map = mapping(entry) else { return nil }
        checkKeys(map, known: Self.pricingKeys, in: "pricing")
        func perMillion(_ decoder: inout ConfigurationDecoder, million: [String], thousand: [String]) -> Double? {
            for key in million {
                if let value = decoder.number(map[key], min: 0) { return value }
            }
            for key in thousand {
                if let value = decoder.number(map[key], min: 0) { return value * 1000 }
            }
            return nil
        }
        let input = perMillion(
            &self, million: ["input_per_1m", "input"], thousand: ["input_per_1k_tokens", "input_per_1k"])
        let output = perMillion(
            &self, million: ["output_per_1m", "output"], thousand: ["output_per_1k_tokens", "output_per_1k"])
        var pricing = ModelPricing(inputPerMillion: input ?? 0, outputPerMillion: output ?? 0)
        pricing.cachedInputPerMillion = number(map["cached_input_per_1m"], min: 0)
        pricing.cacheWritePerMillion = number(map["cache_write_per_1m"], min: 0)
        pricing.perRequest = number(map["per_request"], min: 0) ?? 0
        onlySupported(
            map["currency"], values: ["usd"], in: "pricing",
            hint: "Prices, budgets and costs are in USD: convert the prices and remove `currency` or set it to USD")
        return pricing
    }

    // MARK: Budgets

    static let budgetKeys = [
        "daily_limit", "monthly_limit", "per_request_limit", "daily", "monthly", "per_request", "alert_threshold",
        "enforce",
    ]

    /// Spend limits; `nil` when the section is absent.
    mutating func decodeBudget(_ entry: Entry?) -> BudgetLimits? {
        guard let map = mapping(entry) else { return nil }
        checkKeys(map, known: Self.budgetKeys, in: "budget")
        var budget = BudgetLimits(
            daily: number(map.first("daily_limit", "daily"), min: 0),
            monthly: number(map.first("monthly_limit", "monthly"), min: 0),
            perRequest: number(map.first("per_request_limit", "per_request"), min: 0))
        budget.alertThreshold = number(map["alert_threshold"], min: 0, max: 1) ?? budget.alertThreshold
        budget.enforce = bool(map["enforce"]) ?? budget.enforce
        return budget
    }
}

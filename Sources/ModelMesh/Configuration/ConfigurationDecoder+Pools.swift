import Yams

extension ConfigurationDecoder {
    static let poolKeys = [
        "capability", "models", "providers", "strategy", "rotation", "retry", "deactivation", "recovery", "stream",
        "rate_limit", "budget", "failure_threshold", "cooldown_seconds", "model_weights", "model_priority",
        "provider_priority", "session_timeout", "rotate_on_content_policy", "excluded_providers", "fallback_strategy",
        "balance_mode", "affinity_mode", "provider_deactivation", "provider_recovery", "description",
    ]
    static let rotationKeys = ["policy", "strategy", "deactivation", "recovery", "selection", "retry"]
    static let selectionKeys = [
        "model_priority", "provider_priority", "fallback_strategy", "balance_mode", "affinity_mode", "session_timeout",
        "rate_limit", "model_weights",
    ]
    static let retryKeys = [
        "max_attempts", "backoff", "initial_delay", "max_delay", "timeout", "honor_retry_after", "retryable_codes",
        "non_retryable_codes", "scope",
    ]
    static let deactivationKeys = [
        "retry_limit", "failure_threshold", "error_rate_threshold", "error_rate_window", "error_codes",
        "request_limit", "token_limit", "budget_limit", "quota_window", "maintenance_window",
    ]
    static let recoveryKeys = [
        "cooldown", "max_cooldown", "backoff_multiplier", "probe_interval", "probe_on_start", "announce_on_start",
        "on_quota_reset", "quota_reset_schedule",
    ]
    static let streamKeys = ["first_token_timeout", "idle_timeout", "mid_stream"]
    static let rateLimitKeys = ["threshold", "max_rpm", "requests_per_minute", "min_delta"]

    /// Pools, checked against the defined models and providers.
    mutating func decodePools(_ entry: Entry?, models: [ModelConfiguration], providers: [ProviderConfiguration])
        -> [PoolConfiguration]
    {
        guard let map = mapping(entry) else { return [] }
        return map.entries.compactMap { decodePool($0, modelIDs: models.map(\.id), providerIDs: providers.map(\.id)) }
    }

    private mutating func decodePool(_ entry: Entry, modelIDs: [String], providerIDs: [String]) -> PoolConfiguration? {
        let id = entry.key
        guard let map = mapping(entry.node, at: entry.path) else { return nil }
        checkKeys(map, known: Self.poolKeys, in: "pool '\(id)'")
        var pool = PoolConfiguration(id: id)

        // The nested `rotation:` spelling first, so flat keys override it.
        if let rotation = mapping(map["rotation"]) {
            checkKeys(rotation, known: Self.rotationKeys, in: "rotation")
            if let strategy = rotation.first("policy", "strategy") {
                pool.strategy = decodeStrategy(strategy) ?? pool.strategy
            }
            decodeDeactivation(rotation["deactivation"], into: &pool.deactivation)
            decodeRecovery(rotation["recovery"], into: &pool.recovery)
            decodeRetry(rotation["retry"], into: &pool.retry)
            if let selection = mapping(rotation["selection"]) {
                checkKeys(selection, known: Self.selectionKeys, in: "selection")
                decodeSelection(selection, into: &pool, modelIDs: modelIDs, providerIDs: providerIDs)
            }
        }
        if let strategy = map["strategy"] { pool.strategy = decodeStrategy(strategy) ?? pool.strategy }
        decodeSelection(map, into: &pool, modelIDs: modelIDs, providerIDs: providerIDs)
        decodeRetry(map["retry"], into: &pool.retry)
        decodeDeactivation(map["deactivation"], into: &pool.deactivation)
        decodeRecovery(map["recovery"], into: &pool.recovery)
        pool.deactivation.retryLimit = int(map["failure_threshold"], min: 1) ?? pool.deactivation.retryLimit
        if let cooldown = map["cooldown_seconds"] {
            pool.recovery.cooldown = seconds(cooldown) ?? pool.recovery.cooldown
        }
        decodeStream(map["stream"], into: &pool.stream)
        pool.budget = decodeBudget(map["budget"])
        pool.rotateOnContentPolicy = bool(map["rotate_on_content_policy"]) ?? pool.rotateOnContentPolicy

        if let field = map["capability"], let name = string(field) {
            pool.capability = capabilityPath(name, entry: field)
        }
        if let field = map["models"], let names = strings(field) {
            var members: [String] = []
            for (name, element) in names {
                if members.contains(name) {
                    report(
                        .invalidValue, at: element.path, "Model '\(name)' already exists in pool '\(id)'",
                        hint: "List each model once", mark: element.node.mark)
                } else {
                    members.append(name)
                    checkReference(name, to: "model", in: modelIDs, at: element, pool: id)
                }
            }
            pool.models = members
        }
        if let field = map["providers"], let names = strings(field) {
            for (name, element) in names {
                checkReference(name, to: "provider", in: providerIDs, at: element, pool: id)
            }
            pool.providers = names.map(\.value)
        }
        if pool.capability == nil, pool.models == nil {
            // A pool with neither is the pool of the capability its id names.
            if let path = CapabilityTree.standard.canonicalPath(id) {
                pool.capability = path
            } else {
                report(
                    .missingValue, at: entry.path, "Pool '\(id)' has neither 'capability' nor 'models'",
                    hint: "Add `capability: chat-completion` or a `models:` list", mark: entry.keyMark)
            }
        }
        return pool
    }

    private mutating func checkReference(
        _ name: String, to kind: String, in known: [String], at entry: Entry, pool: String
    ) {
        guard !known.contains(name) else { return }
        report(
            .undefinedReference, at: entry.path, "Pool '\(pool)' references unknown \(kind) '\(name)'",
            hint: NameSuggestion.hint(for: name, in: known, otherwise: "Define '\(name)' under \(kind)s"),
            mark: entry.node.mark)
    }

    private mutating func decodeStrategy(_ entry: Entry) -> String? {
        guard let (raw, name) = scalar(entry) else { return nil }
        if let id = ConnectorID.strategy(name) { return id }
        let bare = ConnectorID.normalize(name).replacingOccurrences(of: "modelmesh.", with: "")
            .replacingOccurrences(of: ".v1", with: "")
        report(
            .unknownStrategy, at: entry.path, "Unknown strategy '\(raw)'",
            hint: NameSuggestion.hint(
                for: bare, in: ConnectorID.strategyNames,
                otherwise: "Use one of: \(ConnectorID.strategyNames.joined(separator: ", "))"),
            mark: entry.node.mark)
        return nil
    }

    /// Priorities, weights, session timeout and rate-limit settings (flat or under `rotation.selection`).
    private mutating func decodeSelection(
        _ map: YAMLMapping, into pool: inout PoolConfiguration, modelIDs: [String], providerIDs: [String]
    ) {
        if let names = strings(map["model_priority"]) {
            for (name, element) in names { checkReference(name, to: "model", in: modelIDs, at: element, pool: pool.id) }
            pool.modelPriority = names.map(\.value)
        }
        if let names = strings(map["provider_priority"]) {
            for (name, element) in names {
                checkReference(name, to: "provider", in: providerIDs, at: element, pool: pool.id)
            }
            pool.providerPriority = names.map(\.value)
        }
        if let weights = mapping(map["model_weights"]) {
            for weight in weights.entries {
                checkReference(weight.key, to: "model", in: modelIDs, at: weight, pool: pool.id)
                if let value = number(weight, min: 0) { pool.modelWeights[weight.key] = value }
            }
        }
        pool.sessionTimeout = duration(map["session_timeout"]) ?? pool.sessionTimeout
        if let rateLimit = mapping(map["rate_limit"]) {
            checkKeys(rateLimit, known: Self.rateLimitKeys, in: "rate_limit")
            pool.rateLimit.threshold = number(rateLimit["threshold"], min: 0, max: 1) ?? pool.rateLimit.threshold
            pool.rateLimit.maxRequestsPerMinute =
                int(rateLimit.first("max_rpm", "requests_per_minute"), min: 0) ?? pool.rateLimit.maxRequestsPerMinute
            _ = duration(rateLimit["min_delta"])
        }
    }

    private mutating func decodeRetry(_ entry: Entry?, into retry: inout RetryPolicy) {
        guard let map = mapping(entry) else { return }
        checkKeys(map, known: Self.retryKeys, in: "retry")
        retry.maxAttempts = int(map["max_attempts"], min: 1) ?? retry.maxAttempts
        retry.backoff =
            choice(map["backoff"], BackoffKind.self, aliases: ["exponential": .exponentialJitter]) ?? retry.backoff
        retry.initialDelay = duration(map["initial_delay"]) ?? retry.initialDelay
        retry.maxDelay = duration(map["max_delay"]) ?? retry.maxDelay
        retry.timeout = duration(map["timeout"]) ?? retry.timeout
        retry.honorRetryAfter = bool(map["honor_retry_after"]) ?? retry.honorRetryAfter
        for key in ["retryable_codes", "non_retryable_codes"] { _ = statusCodes(map[key]) }
    }

    private mutating func decodeDeactivation(_ entry: Entry?, into policy: inout DeactivationPolicy) {
        guard let map = mapping(entry) else { return }
        checkKeys(map, known: Self.deactivationKeys, in: "deactivation")
        policy.retryLimit = int(map.first("retry_limit", "failure_threshold"), min: 1) ?? policy.retryLimit
        policy.errorRateThreshold = number(map["error_rate_threshold"], min: 0, max: 1) ?? policy.errorRateThreshold
        policy.errorRateWindow = int(map["error_rate_window"], min: 1) ?? policy.errorRateWindow
        if let codes = statusCodes(map["error_codes"]) { policy.errorCodes = Set(codes) }
        policy.requestLimit = int(map["request_limit"], min: 0) ?? policy.requestLimit
        policy.tokenLimit = int(map["token_limit"], min: 0) ?? policy.tokenLimit
        policy.budgetLimit = number(map["budget_limit"], min: 0) ?? policy.budgetLimit
    }

    private mutating func decodeRecovery(_ entry: Entry?, into policy: inout RecoveryPolicy) {
        guard let map = mapping(entry) else { return }
        checkKeys(map, known: Self.recoveryKeys, in: "recovery")
        policy.cooldown = duration(map["cooldown"]) ?? policy.cooldown
        policy.maxCooldown = duration(map["max_cooldown"]) ?? policy.maxCooldown
        policy.backoffMultiplier = number(map["backoff_multiplier"], min: 1) ?? policy.backoffMultiplier
        policy.probeInterval = duration(map["probe_interval"]) ?? policy.probeInterval
        policy.announceOnStart = bool(map.first("probe_on_start", "announce_on_start")) ?? policy.announceOnStart
        _ = bool(map["on_quota_reset"])
    }

    private mutating func decodeStream(_ entry: Entry?, into policy: inout StreamPolicy) {
        guard let map = mapping(entry) else { return }
        checkKeys(map, known: Self.streamKeys, in: "stream")
        policy.firstTokenTimeout = duration(map["first_token_timeout"]) ?? policy.firstTokenTimeout
        policy.idleTimeout = duration(map["idle_timeout"]) ?? policy.idleTimeout
        policy.midStream = choice(map["mid_stream"], MidStreamPolicy.self) ?? policy.midStream
    }

    /// HTTP status codes (100...599).
    private mutating func statusCodes(_ entry: Entry?) -> [Int]? {
        guard let entry, let elements = list(entry) else { return nil }
        return elements.compactMap { int($0, min: 100, max: 599) }
    }

    /// Seconds as a number (`cooldown_seconds: 30`) or as a duration (`30s`).
    private mutating func seconds(_ entry: Entry) -> Duration? {
        guard let (raw, value) = scalar(entry) else { return nil }
        if let number = Double(value.trimmingCharacters(in: .whitespaces)), number.isFinite {
            if number < 0 {
                report(
                    .invalidValue, at: entry.path, "Must be >= 0, got \(raw)",
                    hint: "Use 0 or a positive number of seconds",
                    mark: entry.node.mark)
                return nil
            }
            return DurationParser.seconds(number)
        }
        guard let duration = DurationParser.parse(value) else {
            reportInvalidDuration(raw, at: entry)
            return nil
        }
        return duration
    }
}

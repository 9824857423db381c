import Foundation
import Yams

extension ConfigurationDecoder {
    static let poolKeys = [
        "capability", "models", "providers", "strategy", "rotation", "retry", "deactivation", "recovery", "stream",
        "rate_limit", "budget", "failure_threshold", "cooldown_seconds", "model_weights", "model_priority",
        "provider_priority", "session_timeout", "rotate_on_content_policy", "balance_mode", "description",
    ]
    /// Documented pool keys that are not implemented, with what to do instead.
    static let unsupportedPoolKeys = [
        "excluded_providers": "List the providers to keep under `providers:` instead",
        "fallback_strategy":
            "After the priority lists, priority-selection falls back in pool order; remove the key",
        "affinity_mode":
            "session-stickiness always moves a session to another model when its model is unavailable "
            + "(`affinity_mode: fallback`); remove the key",
        "provider_deactivation":
            "A provider is taken out automatically on authentication failures, outages and failed health probes; "
            + "remove the key",
        "provider_recovery":
            "A provider comes back through health probes (discovery.health) or an explicit activation; remove the key",
        "strategy_instance": "Register a custom strategy in Swift with StrategyRegistry and name it in `strategy:`",
        "model_request_limits": "Use deactivation.request_limit, or rate_limit.max_rpm for a per-minute cap",
        "model_token_limits": "Use deactivation.token_limit",
    ]
    /// Selection keys only some strategies read, and the strategies that read them.
    static let strategySettings = [
        "model_priority": ["modelmesh.priority-selection.v1"],
        "provider_priority": ["modelmesh.priority-selection.v1"],
        "model_weights": ["modelmesh.load-balanced.v1"],
        "balance_mode": ["modelmesh.load-balanced.v1"],
        "session_timeout": ["modelmesh.session-stickiness.v1"],
        "rate_limit": ["modelmesh.rate-limit-aware.v1"],
    ]
    static let rotationKeys = ["policy", "strategy", "deactivation", "recovery", "selection", "retry"]
    static let selectionKeys = [
        "model_priority", "provider_priority", "balance_mode", "session_timeout", "rate_limit", "model_weights",
    ]
    static let retryKeys = [
        "max_attempts", "backoff", "initial_delay", "max_delay", "timeout", "honor_retry_after", "retryable_codes",
        "non_retryable_codes", "scope",
    ]
    static let deactivationKeys = [
        "retry_limit", "failure_threshold", "error_rate_threshold", "error_rate_window", "error_codes",
        "request_limit", "token_limit", "budget_limit", "maintenance_window",
    ]
    static let recoveryKeys = [
        "cooldown", "max_cooldown", "backoff_multiplier", "probe_interval", "probe_on_start", "announce_on_start",
    ]
    static let unsupportedRecoveryKeys = [
        "on_quota_reset":
            "Models out for request_limit, token_limit or budget_limit come back when the usage window resets "
            + "at 00:00 UTC; remove the key",
        "quota_reset_schedule":
            "Usage windows reset daily at 00:00 UTC (`daily_utc`); other schedules are not available; remove the key",
    ]
    static let streamKeys = ["first_token_timeout", "idle_timeout", "mid_stream"]
    static let rateLimitKeys = ["threshold", "max_rpm", "requests_per_minute"]
    static let maintenanceWindowKeys = ["days", "start", "end", "timezone", "models", "providers"]

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
        checkKeys(map, known: Self.poolKeys, unsupported: Self.unsupportedPoolKeys, in: "pool '\(id)'")
        var pool = PoolConfiguration(id: id)

        var selectionEntries = map.entries
        // The nested `rotation:` spelling first, so flat keys override it.
        if let rotation = mapping(map["rotation"]) {
            checkKeys(rotation, known: Self.rotationKeys, in: "rotation")
            if let strategy = rotation.first("policy", "strategy") {
                pool.strategy = decodeStrategy(strategy) ?? pool.strategy
            }
            decodeDeactivation(
                rotation["deactivation"], into: &pool.deactivation, pool: id, modelIDs: modelIDs,
                providerIDs: providerIDs)
            decodeRecovery(rotation["recovery"], into: &pool.recovery)
            decodeRetry(rotation["retry"], into: &pool.retry)
            if let selection = mapping(rotation["selection"]) {
                checkKeys(selection, known: Self.selectionKeys, unsupported: Self.unsupportedPoolKeys, in: "selection")
                decodeSelection(selection, into: &pool, modelIDs: modelIDs, providerIDs: providerIDs)
                selectionEntries += selection.entries
            }
        }
        if let strategy = map["strategy"] { pool.strategy = decodeStrategy(strategy) ?? pool.strategy }
        decodeSelection(map, into: &pool, modelIDs: modelIDs, providerIDs: providerIDs)
        decodeRetry(map["retry"], into: &pool.retry)
        decodeDeactivation(
            map["deactivation"], into: &pool.deactivation, pool: id, modelIDs: modelIDs, providerIDs: providerIDs)
        decodeRecovery(map["recovery"], into: &pool.recovery)
        pool.deactivation.retryLimit = int(map["failure_threshold"], min: 1) ?? pool.deactivation.retryLimit
        if let cooldown = map["cooldown_seconds"] {
            pool.recovery.cooldown = seconds(cooldown) ?? pool.recovery.cooldown
        }
        decodeStream(map["stream"], into: &pool.stream)
        pool.budget = decodeBudget(map["budget"])
        pool.rotateOnContentPolicy = bool(map["rotate_on_content_policy"]) ?? pool.rotateOnContentPolicy
        for field in selectionEntries {
            guard let users = Self.strategySettings[field.key], !users.contains(pool.strategy) else { continue }
            let names = users.map {
                $0.replacingOccurrences(of: "modelmesh.", with: "").replacingOccurrences(of: ".v1", with: "")
            }
            report(
                .notSupported, at: field.path,
                "Key '\(field.key)' has no effect with strategy \(pool.strategy) (pool '\(id)')",
                hint:
                    "Only \(names.joined(separator: " and ")) reads it: set `strategy: \(names[0])`, or remove the key",
                mark: field.keyMark)
        }

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
        pool.balanceMode = choice(map["balance_mode"], BalanceMode.self) ?? pool.balanceMode
        if let rateLimit = mapping(map["rate_limit"]) {
            checkKeys(
                rateLimit, known: Self.rateLimitKeys,
                unsupported: [
                    "min_delta":
                        "rate-limit-aware does not space requests out; cap requests per minute with `max_rpm` instead"
                ], in: "rate_limit")
            pool.rateLimit.threshold = number(rateLimit["threshold"], min: 0, max: 1) ?? pool.rateLimit.threshold
            pool.rateLimit.maxRequestsPerMinute =
                int(rateLimit.first("max_rpm", "requests_per_minute"), min: 0) ?? pool.rateLimit.maxRequestsPerMinute
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
        retry.scope = choice(map["scope"], RetryScope.self) ?? retry.scope
        let retryable = statusCodes(map["retryable_codes"])
        let nonRetryable = statusCodes(map["non_retryable_codes"])
        // A list written here wins over the other list's defaults (or earlier values).
        switch (retryable, nonRetryable) {
        case (let retryable?, nil):
            retry.retryableCodes = Set(retryable.map(\.code))
            retry.nonRetryableCodes.subtract(retry.retryableCodes)
        case (nil, let nonRetryable?):
            retry.nonRetryableCodes = Set(nonRetryable.map(\.code))
            retry.retryableCodes.subtract(retry.nonRetryableCodes)
        case (let retryable?, let nonRetryable?):
            let retryableSet = Set(retryable.map(\.code))
            for (code, element) in nonRetryable where retryableSet.contains(code) {
                report(
                    .invalidValue, at: element.path,
                    "Status \(code) is listed in both retryable_codes and non_retryable_codes",
                    hint: "Keep it in one of the two lists", mark: element.node.mark)
            }
            retry.retryableCodes = retryableSet
            retry.nonRetryableCodes = Set(nonRetryable.map(\.code)).subtracting(retryableSet)
        case (nil, nil):
            break
        }
    }

    private mutating func decodeDeactivation(
        _ entry: Entry?, into policy: inout DeactivationPolicy, pool: String, modelIDs: [String], providerIDs: [String]
    ) {
        guard let map = mapping(entry) else { return }
        checkKeys(
            map, known: Self.deactivationKeys,
            unsupported: [
                "quota_window":
                    "request_limit, token_limit and budget_limit count per UTC day and reset at 00:00 UTC; "
                    + "remove the key (monthly windows are not available)"
            ], in: "deactivation")
        policy.retryLimit = int(map.first("retry_limit", "failure_threshold"), min: 1) ?? policy.retryLimit
        policy.errorRateThreshold = number(map["error_rate_threshold"], min: 0, max: 1) ?? policy.errorRateThreshold
        policy.errorRateWindow = int(map["error_rate_window"], min: 1) ?? policy.errorRateWindow
        if let codes = statusCodes(map["error_codes"]) { policy.errorCodes = Set(codes.map(\.code)) }
        policy.requestLimit = int(map["request_limit"], min: 0) ?? policy.requestLimit
        policy.tokenLimit = int(map["token_limit"], min: 0) ?? policy.tokenLimit
        policy.budgetLimit = number(map["budget_limit"], min: 0) ?? policy.budgetLimit
        if let field = map["maintenance_window"] {
            policy.maintenanceWindows = maintenanceWindows(
                field, pool: pool, modelIDs: modelIDs, providerIDs: providerIDs)
        }
    }

    /// One window (a mapping) or several (a list of mappings); see ``MaintenanceWindow``.
    private mutating func maintenanceWindows(
        _ entry: Entry, pool: String, modelIDs: [String], providerIDs: [String]
    ) -> [MaintenanceWindow] {
        switch entry.node {
        case .sequence:
            return (list(entry) ?? []).compactMap {
                maintenanceWindow($0, pool: pool, modelIDs: modelIDs, providerIDs: providerIDs)
            }
        case .scalar where !Self.isNull(entry.node):
            report(
                .notSupported, at: entry.path, "A maintenance window as a cron expression is not supported yet",
                hint: "Write it as a mapping, e.g. `maintenance_window: {days: [sat], start: \"02:00\", "
                    + "end: \"04:00\", timezone: UTC}`",
                mark: entry.node.mark)
            return []
        default:
            return maintenanceWindow(entry, pool: pool, modelIDs: modelIDs, providerIDs: providerIDs).map { [$0] } ?? []
        }
    }

    private mutating func maintenanceWindow(
        _ entry: Entry, pool: String, modelIDs: [String], providerIDs: [String]
    ) -> MaintenanceWindow? {
        guard let map = mapping(entry) else { return nil }
        checkKeys(map, known: Self.maintenanceWindowKeys, in: "maintenance_window")
        var valid = true
        var days: Set<MaintenanceWindow.Weekday> = []
        for (name, element) in strings(map["days"]) ?? [] {
            if let day = MaintenanceWindow.Weekday(name: name.trimmingCharacters(in: .whitespaces)) {
                days.insert(day)
            } else if ["daily", "every day", "all", "*"].contains(name.lowercased()) {
                days.formUnion(MaintenanceWindow.Weekday.allCases)
            } else {
                valid = false
                report(
                    .invalidValue, at: element.path, "Unknown day '\(name)'",
                    hint: "Use mon, tue, wed, thu, fri, sat or sun", mark: element.node.mark)
            }
        }
        let start = timeOfDay(map["start"], allowMidnightEnd: false)
        let end = timeOfDay(map["end"], allowMidnightEnd: true)
        for key in ["start", "end"] where map[key] == nil {
            valid = false
            report(
                .missingValue, at: Self.path(map.path, key), "A maintenance window needs '\(key)'",
                hint: "Add `\(key): \"HH:MM\"` (24-hour clock)", mark: map.mark)
        }
        var zone = TimeZone(secondsFromGMT: 0) ?? .current
        if let field = map["timezone"], let name = string(field) {
            if let parsed = Self.timeZone(name) {
                zone = parsed
            } else {
                valid = false
                report(
                    .invalidValue, at: field.path, "Unknown time zone '\(name)'",
                    hint: "Use UTC, an offset such as +02:00, or an IANA name such as Europe/Berlin",
                    mark: field.node.mark)
            }
        }
        var models: Set<String>?
        if let names = strings(map["models"]) {
            for (name, element) in names { checkReference(name, to: "model", in: modelIDs, at: element, pool: pool) }
            models = Set(names.map(\.value))
        }
        var providers: Set<String>?
        if let names = strings(map["providers"]) {
            for (name, element) in names {
                checkReference(name, to: "provider", in: providerIDs, at: element, pool: pool)
            }
            providers = Set(names.map(\.value))
        }
        guard valid, let start, let end else { return nil }
        return MaintenanceWindow(
            days: days.count == 7 ? [] : days, start: start, end: end, timeZone: zone, models: models,
            providers: providers)
    }

    /// `HH:MM` as minutes after midnight; `24:00` only as an end.
    private mutating func timeOfDay(_ entry: Entry?, allowMidnightEnd: Bool) -> Int? {
        guard let entry, let (raw, value) = scalar(entry) else { return nil }
        let parts = value.trimmingCharacters(in: .whitespaces).split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2, parts[1].count == 2, (1...2).contains(parts[0].count),
            let hours = Int(parts[0]), let minutes = Int(parts[1]), (0..<60).contains(minutes),
            (0..<24).contains(hours) || (allowMidnightEnd && hours == 24 && minutes == 0)
        {
            return hours * 60 + minutes
        }
        report(
            .invalidValue, at: entry.path, "Invalid time of day '\(raw)': expected HH:MM",
            hint: "Write a quoted 24-hour time such as \"02:30\"", mark: entry.node.mark)
        return nil
    }

    /// `UTC`, `Z`, `GMT`, an offset (`+02:00`, `-0530`, `+2`), or an IANA zone name.
    static func timeZone(_ name: String) -> TimeZone? {
        let text = name.trimmingCharacters(in: .whitespaces)
        if ["utc", "z", "gmt"].contains(text.lowercased()) { return TimeZone(secondsFromGMT: 0) }
        var offset = text.uppercased()
        for prefix in ["UTC", "GMT"] where offset.hasPrefix(prefix) { offset.removeFirst(prefix.count) }
        if let sign = offset.first, sign == "+" || sign == "-" {
            let digits = offset.dropFirst().replacingOccurrences(of: ":", with: "")
            guard !digits.isEmpty, digits.allSatisfy(\.isNumber), digits.count <= 4 else { return nil }
            let (hours, minutes) =
                digits.count <= 2 ? (Int(digits) ?? 0, 0) : (Int(digits.dropLast(2)) ?? 0, Int(digits.suffix(2)) ?? 0)
            guard hours <= 14, minutes < 60 else { return nil }
            return TimeZone(secondsFromGMT: (sign == "-" ? -1 : 1) * (hours * 3600 + minutes * 60))
        }
        return TimeZone(identifier: text)
    }

    private mutating func decodeRecovery(_ entry: Entry?, into policy: inout RecoveryPolicy) {
        guard let map = mapping(entry) else { return }
        checkKeys(map, known: Self.recoveryKeys, unsupported: Self.unsupportedRecoveryKeys, in: "recovery")
        policy.cooldown = duration(map["cooldown"]) ?? policy.cooldown
        policy.maxCooldown = duration(map["max_cooldown"]) ?? policy.maxCooldown
        policy.backoffMultiplier = number(map["backoff_multiplier"], min: 1) ?? policy.backoffMultiplier
        policy.probeInterval = duration(map["probe_interval"]) ?? policy.probeInterval
        policy.announceOnStart = bool(map["announce_on_start"]) ?? policy.announceOnStart
        policy.probeOnStart = bool(map["probe_on_start"]) ?? policy.probeOnStart
    }

    private mutating func decodeStream(_ entry: Entry?, into policy: inout StreamPolicy) {
        guard let map = mapping(entry) else { return }
        checkKeys(map, known: Self.streamKeys, in: "stream")
        policy.firstTokenTimeout = duration(map["first_token_timeout"]) ?? policy.firstTokenTimeout
        policy.idleTimeout = duration(map["idle_timeout"]) ?? policy.idleTimeout
        policy.midStream = choice(map["mid_stream"], MidStreamPolicy.self) ?? policy.midStream
    }

    /// HTTP status codes (100...599), each with its list element.
    private mutating func statusCodes(_ entry: Entry?) -> [(code: Int, element: Entry)]? {
        guard let entry, let elements = list(entry) else { return nil }
        return elements.compactMap { element in int(element, min: 100, max: 599).map { ($0, element) } }
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

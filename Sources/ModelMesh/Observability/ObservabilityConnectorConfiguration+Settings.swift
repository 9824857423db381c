import Foundation

/// Typed access to a connector's settings, with errors that name the connector and setting.
extension ObservabilityConnectorConfiguration {
    /// The string setting `key`, or `defaultValue` when it is absent.
    public func string(_ key: String, default defaultValue: String? = nil) throws -> String? {
        guard let value = settings[key], value != .null else { return defaultValue }
        guard let text = value.stringValue else { throw invalid(key, "must be a string") }
        return text
    }

    /// The integer setting `key`, or `defaultValue` when it is absent. Numeric strings are accepted.
    public func int(_ key: String, default defaultValue: Int) throws -> Int {
        guard let value = settings[key], value != .null else { return defaultValue }
        if let number = value.intValue { return number }
        if let text = value.stringValue, let number = Int(text.trimmingCharacters(in: .whitespaces)) {
            return number
        }
        throw invalid(key, "must be an integer")
    }

    /// The boolean setting `key`, or `defaultValue` when it is absent.
    public func bool(_ key: String, default defaultValue: Bool) throws -> Bool {
        guard let value = settings[key], value != .null else { return defaultValue }
        if let flag = value.boolValue { return flag }
        switch value.stringValue?.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw invalid(key, "must be true or false")
        }
    }

    /// The size setting `key` in bytes: an integer, or a string such as `512KB`, `10MB`, `1GB`
    /// (binary multiples: 1 KB = 1024 bytes).
    public func byteSize(_ key: String, default defaultValue: Int) throws -> Int {
        guard let value = settings[key], value != .null else { return defaultValue }
        if let number = value.intValue, number >= 0 { return number }
        guard let text = value.stringValue, let bytes = Self.parseByteSize(text) else {
            throw invalid(key, "must be a size in bytes or a string like '10MB'")
        }
        return bytes
    }

    /// The trace severity setting `key`, or `defaultValue` when it is absent.
    public func severity(_ key: String, default defaultValue: TraceSeverity) throws -> TraceSeverity {
        guard let text = try string(key) else { return defaultValue }
        guard let severity = TraceSeverity(rawValue: text.lowercased()) else {
            let known = TraceSeverity.allCases.map(\.rawValue).joined(separator: ", ")
            throw invalid(key, "must be one of \(known)")
        }
        return severity
    }

    /// An ``ObservabilityError/Code/invalidSetting`` error for `key`.
    public func invalid(_ key: String, _ problem: String) -> ObservabilityError {
        ObservabilityError(
            .invalidSetting, connectorID: connector, setting: key,
            "Setting '\(key)' of observability connector '\(connector)' \(problem)",
            hint: "got \(settings[key]?.compactText ?? "nothing")")
    }

    static func parseByteSize(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Int)] = [
            ("GIB", 1 << 30), ("MIB", 1 << 20), ("KIB", 1 << 10),
            ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10),
            ("B", 1),
        ]
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            guard let amount = Double(number), amount >= 0, amount * Double(factor) < 9e15 else { return nil }
            return Int(amount * Double(factor))
        }
        guard let bytes = Int(trimmed), bytes >= 0 else { return nil }
        return bytes
    }
}

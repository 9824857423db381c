import Foundation
import Yams

/// Walks a composed YAML tree into a ``MeshConfiguration``, collecting every problem
/// instead of stopping at the first.
///
/// All string values pass through the ``SecretInterpolator``; messages quote the text as
/// written in the file, so a resolved secret never reaches an issue.
struct ConfigurationDecoder {
    typealias Entry = YAMLMapping.Entry

    private var collected: [ConfigurationIssue] = []
    /// Every value a reference resolved to, so no message can carry one.
    private var substituted: Set<String> = []
    var interpolator: SecretInterpolator
    /// Where missing secrets should be added, for hints.
    var secretsFile: String?
    /// Values copied out as JSON so far, aliases expanded: bounded, so that nested anchors
    /// (an alias bomb) cannot make a small file expand without end.
    private var copiedValues = 0
    static let maxCopiedValues = 100_000

    init(interpolator: SecretInterpolator) {
        self.interpolator = interpolator
    }

    // MARK: Reporting

    /// The issues found, with any resolved secret or variable value masked.
    ///
    /// Messages quote file text, but some (an unknown event name, a model reference) quote a
    /// value after resolution; masking here keeps every path safe.
    var issues: [ConfigurationIssue] {
        // Very short values would mask ordinary words; secrets are longer.
        let values = substituted.filter { $0.count >= 4 }.sorted { $0.count > $1.count }
        guard !values.isEmpty else { return collected }
        func mask(_ text: String) -> String {
            values.reduce(text) { $0.replacingOccurrences(of: $1, with: "<redacted>") }
        }
        return collected.map { issue in
            var issue = issue
            issue.message = mask(issue.message)
            issue.hint = issue.hint.map(mask)
            return issue
        }
    }

    mutating func report(
        _ kind: ConfigurationIssue.Kind, at path: String, _ message: String, hint: String?, mark: Mark? = nil
    ) {
        collected.append(
            ConfigurationIssue(
                kind: kind, path: path, message: message, hint: hint, line: mark?.line, column: mark?.column)
        )
    }

    static func path(_ base: String, _ key: String) -> String {
        base.isEmpty ? key : base + "." + key
    }

    static func isNull(_ node: Node) -> Bool {
        if case .scalar = node { return node.tag.rawValue == Tag.Name.null.rawValue }
        return false
    }

    private static func shape(of node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar, .alias: "a value"
        }
    }

    // MARK: Structure

    /// The mapping at `node`; `null` reads as an empty mapping.
    mutating func mapping(_ node: Node, at path: String) -> YAMLMapping? {
        if Self.isNull(node) { return YAMLMapping(path: path, mark: node.mark) }
        guard case .mapping(let mapping) = node else {
            report(
                .wrongType, at: path, "Expected a mapping of keys to values, got \(Self.shape(of: node))",
                hint: path.isEmpty
                    ? "The file must be a mapping of sections such as `providers:`, `models:` and `pools:`"
                    : "Write it as `key: value` lines indented under its key",
                mark: node.mark)
            return nil
        }
        var result = YAMLMapping(path: path, mark: node.mark)
        var explicit: [Entry] = []
        for (keyNode, value) in mapping {
            guard case .scalar(let key) = keyNode else {
                report(.wrongType, at: path, "A key must be plain text", hint: "Use a text key", mark: keyNode.mark)
                continue
            }
            if key.string == "<<", key.style == .plain {
                // YAML merge key: entries from the referenced mapping(s), overridden by explicit ones.
                let sources: [Node] = if case .sequence(let list) = value { Array(list) } else { [value] }
                for source in sources {
                    if let merged = self.mapping(source, at: path) { result = result.merging(merged) }
                }
                continue
            }
            explicit.append(
                Entry(key: key.string, node: value, path: Self.path(path, key.string), keyMark: keyNode.mark))
        }
        for entry in explicit { result.set(entry) }
        return result
    }

    mutating func mapping(_ entry: Entry?) -> YAMLMapping? {
        entry.flatMap { mapping($0.node, at: $0.path) }
    }

    /// The elements of a list, each with its `path[i]`; `null` reads as an empty list.
    mutating func list(_ entry: Entry) -> [Entry]? {
        if Self.isNull(entry.node) { return [] }
        guard case .sequence(let sequence) = entry.node else {
            report(
                .wrongType, at: entry.path, "Expected a list, got \(Self.shape(of: entry.node))",
                hint: "Write one `- item` line per element", mark: entry.node.mark)
            return nil
        }
        return sequence.enumerated().map { index, node in
            Entry(key: String(index), node: node, path: "\(entry.path)[\(index)]", keyMark: node.mark)
        }
    }

    /// Reports keys of `map` that are not in `known`: a documented key ModelMesh does not
    /// implement (a key of `unsupported`, mapped to what to do instead) as `not_supported`,
    /// anything else as an unknown key with the nearest known key suggested.
    mutating func checkKeys(
        _ map: YAMLMapping, known: [String], unsupported: [String: String] = [:], in what: String
    ) {
        for entry in map.entries where !known.contains(entry.key) {
            if let hint = unsupported[entry.key] {
                reportNotSupported(entry, in: what, hint: hint)
                continue
            }
            report(
                .unknownKey, at: entry.path, "Unknown key '\(entry.key)' in \(what)",
                hint: NameSuggestion.hint(
                    for: entry.key, in: known, otherwise: "Known keys: \(known.joined(separator: ", "))"),
                mark: entry.keyMark)
        }
    }

    /// Reports the key of `entry` as documented but not implemented, with what to do instead.
    mutating func reportNotSupported(_ entry: Entry, in what: String, hint: String) {
        report(
            .notSupported, at: entry.path, "Key '\(entry.key)' in \(what) is not supported yet", hint: hint,
            mark: entry.keyMark)
    }

    /// Checks a key of which ModelMesh implements only some values, the behaviour it always has:
    /// those values are accepted, any other is reported as not supported.
    mutating func onlySupported(_ entry: Entry?, values supported: [String], in what: String, hint: String) {
        guard let entry, let (raw, value) = scalar(entry) else { return }
        let wanted = value.trimmingCharacters(in: .whitespaces).lowercased()
        guard !supported.contains(wanted) else { return }
        report(
            .notSupported, at: entry.path, "'\(entry.key): \(raw)' in \(what) is not supported yet", hint: hint,
            mark: entry.node.mark)
    }

    // MARK: Scalars

    /// The text of a scalar, as written and with references resolved; `nil` for null or a wrong shape.
    mutating func scalar(_ entry: Entry?) -> (raw: String, value: String)? {
        guard let entry else { return nil }
        guard case .scalar(let scalar) = entry.node else {
            report(
                .wrongType, at: entry.path, "Expected a single value, got \(Self.shape(of: entry.node))",
                hint: "Write a plain value after the colon", mark: entry.node.mark)
            return nil
        }
        if Self.isNull(entry.node) { return nil }
        return (scalar.string, resolve(scalar.string, at: entry.path, mark: entry.node.mark))
    }

    /// `text` with `${secrets:NAME}` and `${NAME}` resolved; failures reported at `path`.
    mutating func resolve(_ text: String, at path: String, mark: Mark?) -> String {
        let (value, failures, values) = interpolator.interpolate(text)
        substituted.formUnion(values)
        for failure in failures {
            switch failure {
            case .missingSecret(let name):
                report(
                    .missingSecret, at: path, "Secret '\(name)' not found in secret store \(interpolator.storeID)",
                    hint: missingSecretHint(name), mark: mark)
            case .missingVariable(let name):
                report(
                    .missingSecret, at: path, "Environment variable '\(name)' is not set",
                    hint: "Set \(name) in the environment, or set secrets.fail_on_missing: false", mark: mark)
            case .storeFailed(let name):
                report(
                    .secretStoreUnavailable, at: path,
                    "Secret store \(interpolator.storeID) failed while reading '\(name)'",
                    hint: "Check the secrets section", mark: mark)
            case .secretNotAllowed(let name):
                report(
                    .invalidValue, at: path, "Secret reference '${secrets:\(name)}' cannot configure the secret store",
                    hint: "Use ${ENV_NAME} to read the environment here", mark: mark)
            }
        }
        return value
    }

    private func missingSecretHint(_ name: String) -> String {
        switch interpolator.storeID {
        case "modelmesh.env.v1": "Set the environment variable \(name), or set secrets.fail_on_missing: false"
        case "modelmesh.dotenv.v1": "Add a line \(name)=... to \(secretsFile ?? ".env")"
        case "modelmesh.json-secrets.v1": "Add \"\(name)\" to \(secretsFile ?? "the secrets file")"
        case "modelmesh.memory.v1": "Add \(name) under secrets.values"
        default: "Add \(name) to the secret store"
        }
    }

    mutating func string(_ entry: Entry?) -> String? {
        scalar(entry)?.value
    }

    mutating func secret(_ entry: Entry?) -> Secret? {
        string(entry).map(Secret.init)
    }

    mutating func int(_ entry: Entry?, min: Int? = nil, max: Int? = nil) -> Int? {
        guard let entry, let (raw, value) = scalar(entry) else { return nil }
        guard let number = Int(value.trimmingCharacters(in: .whitespaces)) else {
            report(
                .wrongType, at: entry.path, "Expected a whole number, got '\(raw)'", hint: "Write an integer such as 3",
                mark: entry.node.mark)
            return nil
        }
        return checkRange(Double(number), raw: raw, entry: entry, min: min.map(Double.init), max: max.map(Double.init))
            ? number : nil
    }

    mutating func number(_ entry: Entry?, min: Double? = nil, max: Double? = nil) -> Double? {
        guard let entry, let (raw, value) = scalar(entry) else { return nil }
        guard let number = Double(value.trimmingCharacters(in: .whitespaces)), number.isFinite else {
            report(
                .wrongType, at: entry.path, "Expected a number, got '\(raw)'", hint: "Write a number such as 0.5",
                mark: entry.node.mark)
            return nil
        }
        return checkRange(number, raw: raw, entry: entry, min: min, max: max) ? number : nil
    }

    private mutating func checkRange(_ value: Double, raw: String, entry: Entry, min: Double?, max: Double?) -> Bool {
        func format(_ bound: Double) -> String {
            bound.rounded() == bound ? String(Int(bound)) : String(bound)
        }
        if let min, let max, !(min...max).contains(value) {
            report(
                .invalidValue, at: entry.path, "Must be between \(format(min)) and \(format(max)), got \(raw)",
                hint: "Use a value from \(format(min)) to \(format(max))", mark: entry.node.mark)
            return false
        }
        if let min, value < min {
            report(
                .invalidValue, at: entry.path, "Must be >= \(format(min)), got \(raw)",
                hint: min == 0 ? "Use 0 or a positive value" : "Use \(format(min)) or more", mark: entry.node.mark)
            return false
        }
        if let max, value > max {
            report(
                .invalidValue, at: entry.path, "Must be <= \(format(max)), got \(raw)",
                hint: "Use \(format(max)) or less", mark: entry.node.mark)
            return false
        }
        return true
    }

    mutating func bool(_ entry: Entry?) -> Bool? {
        guard let entry, let (raw, value) = scalar(entry) else { return nil }
        switch value.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            report(
                .wrongType, at: entry.path, "Expected true or false, got '\(raw)'", hint: "Write true or false",
                mark: entry.node.mark)
            return nil
        }
    }

    mutating func duration(_ entry: Entry?) -> Duration? {
        guard let entry, let (raw, value) = scalar(entry) else { return nil }
        guard let duration = DurationParser.parse(value) else {
            reportInvalidDuration(raw, at: entry)
            return nil
        }
        return duration
    }

    /// A duration of at least `minimum`; a shorter one is reported with `hint`.
    mutating func duration(_ entry: Entry?, atLeast minimum: Duration, minimumText: String, hint: String) -> Duration? {
        guard let entry, let value = duration(entry) else { return nil }
        guard value >= minimum else {
            report(
                .invalidValue, at: entry.path, "\(entry.path.split(separator: ".").last ?? "") must be at least \(minimumText)",
                hint: hint, mark: entry.node.mark)
            return nil
        }
        return value
    }

    mutating func reportInvalidDuration(_ raw: String, at entry: Entry) {
        report(
            .invalidDuration, at: entry.path,
            "Invalid duration '\(raw)': expected \(DurationParser.syntax), e.g. '30s'",
            hint: "Use a number with a unit: 500ms, 30s, 5m, 1h, 1d (a bare number means seconds)",
            mark: entry.node.mark)
    }

    /// A size in bytes: an integer, or a number with `B`, `KB`, `MB`, `GB` (1024-based; `KiB` etc. also accepted).
    mutating func byteCount(_ entry: Entry?) -> Int? {
        guard let entry, let (raw, value) = scalar(entry) else { return nil }
        let text = value.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Double)] = [
            ("KIB", 1024), ("MIB", 1_048_576), ("GIB", 1_073_741_824),
            ("KB", 1024), ("MB", 1_048_576), ("GB", 1_073_741_824), ("K", 1024), ("M", 1_048_576), ("G", 1_073_741_824),
            ("B", 1),
        ]
        var digits = Substring(text)
        var multiplier = 1.0
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            digits = text.dropLast(suffix.count)
            multiplier = factor
            break
        }
        let bytes = Double(digits.trimmingCharacters(in: .whitespaces)).map { ($0 * multiplier).rounded() }
        guard let bytes, bytes.isFinite, bytes >= 0, bytes < 1e15 else {
            report(
                .invalidValue, at: entry.path, "Invalid size '\(raw)': expected bytes or <number><KB|MB|GB>",
                hint: "Write a size such as 10MB", mark: entry.node.mark)
            return nil
        }
        return Int(bytes)
    }

    /// A list of strings; a single value reads as a one-element list.
    mutating func strings(_ entry: Entry?) -> [(value: String, entry: Entry)]? {
        guard let entry else { return nil }
        if case .scalar = entry.node {
            return string(entry).map { [($0, entry)] } ?? []
        }
        guard let elements = list(entry) else { return nil }
        return elements.compactMap { element in string(element).map { ($0, element) } }
    }

    /// A value from a fixed set, matched by raw value; underscores and hyphens are interchangeable.
    mutating func choice<T: RawRepresentable & CaseIterable>(
        _ entry: Entry?, _ type: T.Type, aliases: [String: T] = [:]
    )
        -> T? where T.RawValue == String
    {
        guard let entry, let (raw, value) = scalar(entry) else { return nil }
        let wanted = value.trimmingCharacters(in: .whitespaces).lowercased()
        func canonical(_ s: String) -> String { s.replacingOccurrences(of: "_", with: "-") }
        if let match = T.allCases.first(where: { canonical($0.rawValue) == canonical(wanted) }) { return match }
        if let match = aliases[wanted] { return match }
        let names = T.allCases.map(\.rawValue)
        report(
            .invalidValue, at: entry.path, "Invalid value '\(raw)': expected one of \(names.joined(separator: ", "))",
            hint: NameSuggestion.hint(for: wanted, in: names, otherwise: "Use one of \(names.joined(separator: ", "))"),
            mark: entry.node.mark)
        return nil
    }

    /// Any YAML value as JSON, with references resolved in every string.
    mutating func json(_ node: Node, at path: String) -> JSONValue {
        copiedValues += 1
        if copiedValues > Self.maxCopiedValues {
            if copiedValues == Self.maxCopiedValues + 1 {
                report(
                    .invalidValue, at: path,
                    "Settings expand to more than \(Self.maxCopiedValues) values (YAML aliases repeating anchors)",
                    hint: "Write the settings out without nested anchors and aliases", mark: node.mark)
            }
            return .null
        }
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: return .null
            case .bool: if let b = node.bool { return .bool(b) }
            case .int: if let i = node.int { return .int(i) }
            case .float: if let d = node.float, d.isFinite { return .double(d) }
            default: break
            }
            return .string(resolve(scalar.string, at: path, mark: node.mark))
        case .sequence(let sequence):
            return .array(sequence.enumerated().map { json($1, at: "\(path)[\($0)]") })
        case .mapping:
            guard let map = mapping(node, at: path) else { return .null }
            return jsonObject(map)
        case .alias:
            return .null
        }
    }

    mutating func jsonObject(_ map: YAMLMapping) -> JSONValue {
        var object: [String: JSONValue] = [:]
        for entry in map.entries { object[entry.key] = json(entry.node, at: entry.path) }
        return .object(object)
    }

    /// Settings for a connector: every entry of `map` as JSON.
    mutating func settings(_ map: YAMLMapping) -> [String: JSONValue] {
        jsonObject(map).objectValue ?? [:]
    }
}

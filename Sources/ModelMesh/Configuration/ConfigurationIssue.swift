/// One problem found in a configuration file.
///
/// Issues carry the YAML path of the offending value (`pools.chat.retry.initial_delay`),
/// a message saying what is wrong, and a hint saying how to fix it. Messages quote the
/// text written in the file, never a resolved secret.
public struct ConfigurationIssue: Sendable, Hashable, CustomStringConvertible {
    /// The class of a problem; stable for programs and tests.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// The file is not valid YAML.
        case malformedYAML = "malformed_yaml"
        /// The configuration file could not be read.
        case fileNotFound = "file_not_found"
        /// A value has the wrong shape (a list where a mapping belongs, text where a number belongs).
        case wrongType = "wrong_type"
        /// A key the schema does not know.
        case unknownKey = "unknown_key"
        /// A documented key (or value) that ModelMesh does not implement yet: it is rejected
        /// rather than parsed and ignored.
        case notSupported = "not_supported"
        /// A connector ID (provider, observability, secret store, storage) that is not built in.
        case unknownConnector = "unknown_connector"
        /// A rotation strategy that is not built in.
        case unknownStrategy = "unknown_strategy"
        /// A capability name that is neither an alias nor a dotted path.
        case unknownCapability = "unknown_capability"
        /// A reference to a provider or model that is not defined.
        case undefinedReference = "undefined_reference"
        /// A duration that does not parse.
        case invalidDuration = "invalid_duration"
        /// A value outside its allowed range or set.
        case invalidValue = "invalid_value"
        /// A required value is absent.
        case missingValue = "missing_value"
        /// A `${secrets:NAME}` or `${NAME}` reference that could not be resolved.
        case missingSecret = "missing_secret"
        /// The secret store could not be opened.
        case secretStoreUnavailable = "secret_store_unavailable"
    }

    public var kind: Kind
    /// Dotted YAML path of the value, with `[n]` for list elements; empty for the whole file.
    public var path: String
    public var message: String
    /// How to fix it.
    public var hint: String?
    /// 1-based line of the value in the file, when known.
    public var line: Int?
    /// 1-based column of the value in the file, when known.
    public var column: Int?

    public init(
        kind: Kind, path: String, message: String, hint: String? = nil, line: Int? = nil, column: Int? = nil
    ) {
        self.kind = kind
        self.path = path
        self.message = message
        self.hint = hint
        self.line = line
        self.column = column
    }

    /// `path (line L, column C): message — hint`.
    public var description: String {
        var text = path.isEmpty ? "<file>" : path
        if let line {
            text += column.map { " (line \(line), column \($0))" } ?? " (line \(line))"
        }
        text += ": " + message
        if let hint, !hint.isEmpty { text += " — " + hint }
        return text
    }
}

/// An error building or configuring an observability connector.
///
/// Carries a stable ``code``, the connector ID and (for a bad setting) the setting's name,
/// and a ``hint`` on how to fix it.
public struct ObservabilityError: Error, Sendable, CustomStringConvertible {
    /// Stable error codes.
    public enum Code: String, Sendable, Codable {
        /// No connector is registered under the requested ID.
        case unknownConnector = "unknown_observability_connector"
        /// A connector setting has the wrong type or an invalid value.
        case invalidSetting = "invalid_observability_setting"
        /// The connector exists but cannot be built from configuration alone.
        case notConfigurable = "observability_connector_not_configurable"
        /// The connector could not open its output (file, socket, ...).
        case outputUnavailable = "observability_output_unavailable"
    }

    public var code: Code
    /// The connector ID concerned.
    public var connectorID: String
    /// The offending setting, if any (`max_size`, `path`, ...).
    public var setting: String?
    public var message: String
    /// What to do about it.
    public var hint: String?

    public init(_ code: Code, connectorID: String, setting: String? = nil, _ message: String, hint: String? = nil) {
        self.code = code
        self.connectorID = connectorID
        self.setting = setting
        self.message = message
        self.hint = hint
    }

    public var description: String {
        var text = "\(code.rawValue): \(message)"
        if let hint { text += " (\(hint))" }
        return text
    }
}

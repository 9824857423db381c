/// A provider configuration that cannot be turned into a working connector.
///
/// Raised when a provider is built, before any request is sent.
public struct ProviderSetupError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable code: `missing_base_url`, `invalid_base_url`.
    public var code: String
    /// The provider id.
    public var providerID: String
    public var message: String
    /// How to fix it.
    public var hint: String

    public init(code: String, providerID: String, message: String, hint: String) {
        self.code = code
        self.providerID = providerID
        self.message = message
        self.hint = hint
    }

    public var description: String { "providers.\(providerID): \(message) (\(code)). \(hint)" }
}

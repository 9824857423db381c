/// A source of secret values for `${secrets:NAME}` references in the configuration.
///
/// Built in: ``EnvironmentSecretStore`` (`modelmesh.env.v1`, the default),
/// ``DotenvSecretStore`` (`modelmesh.dotenv.v1`), ``JSONSecretStore``
/// (`modelmesh.json-secrets.v1`) and ``InMemorySecretStore`` (`modelmesh.memory.v1`).
/// Conform to plug in another backend and pass it to ``ConfigurationLoader``.
public protocol SecretStore: Sendable {
    /// The value stored under `name`, or `nil` when the store has no such secret.
    ///
    /// Throw only when the store itself fails; the error must not contain secret values.
    func secret(named name: String) throws -> String?
}

/// Why a secret store could not be opened. Never carries file contents.
public enum SecretStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The store's file does not exist or cannot be read.
    case unreadableFile(path: String)
    /// The store's file is not in the expected format.
    case invalidFormat(path: String, expected: String)

    public var description: String {
        switch self {
        case .unreadableFile(let path): "Cannot read secrets file '\(path)'"
        case .invalidFormat(let path, let expected): "Secrets file '\(path)' is not \(expected)"
        }
    }
}

import Foundation

/// Secrets from environment variables (`modelmesh.env.v1`, the default store).
///
/// `${secrets:OPENAI_API_KEY}` reads the variable `OPENAI_API_KEY`.
public struct EnvironmentSecretStore: SecretStore {
    private let environment: [String: String]

    /// A store over `environment` (default: the process environment).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public func secret(named name: String) -> String? {
        environment[name]
    }
}

/// Secrets held in memory (`modelmesh.memory.v1`): given in code or under `secrets.values`.
///
/// Meant for tests and scripts.
public struct InMemorySecretStore: SecretStore {
    private let values: [String: String]

    public init(_ values: [String: String]) {
        self.values = values
    }

    public func secret(named name: String) -> String? {
        values[name]
    }
}

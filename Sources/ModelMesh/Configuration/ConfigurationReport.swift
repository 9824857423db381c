/// The outcome of validating a configuration file: what `modelmesh validate` prints.
public struct ConfigurationReport: Sendable {
    public var path: String
    /// The decoded configuration (partial when there are issues); `nil` when the file could not be read.
    public var configuration: MeshConfiguration?
    public var issues: [ConfigurationIssue]

    public init(path: String, configuration: MeshConfiguration?, issues: [ConfigurationIssue]) {
        self.path = path
        self.configuration = configuration
        self.issues = issues
    }

    public var isValid: Bool { issues.isEmpty }

    /// 0 when valid, 1 otherwise.
    public var exitCode: Int32 { isValid ? 0 : 1 }

    /// One line per issue, or a one-line summary of what the valid file defines.
    public var text: String {
        guard isValid else {
            let count = issues.count == 1 ? "1 problem" : "\(issues.count) problems"
            return (["\(path): \(count)"] + issues.map(\.description)).joined(separator: "\n")
        }
        let configuration = configuration ?? MeshConfiguration()
        func counted(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
        return "\(path): OK — \(counted(configuration.providers.count, "provider")), "
            + "\(counted(configuration.models.count, "model")), \(counted(configuration.pools.count, "pool"))"
    }
}

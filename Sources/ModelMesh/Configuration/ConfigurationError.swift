import Foundation

/// A configuration that cannot be used, with every problem found in it.
///
/// The loader collects all problems in one pass, so one run of `modelmesh validate`
/// shows everything that needs fixing. The description prints one issue per line.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible, LocalizedError {
    /// The problems, in file order of discovery.
    public var issues: [ConfigurationIssue]

    public init(issues: [ConfigurationIssue]) {
        self.issues = issues
    }

    public var description: String {
        let count = issues.count == 1 ? "1 problem" : "\(issues.count) problems"
        return (["Invalid configuration (\(count)):"] + issues.map { "  " + $0.description })
            .joined(separator: "\n")
    }

    public var errorDescription: String? { description }
}

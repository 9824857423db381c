import Foundation
import Yams

/// Reads `modelmesh.yaml` into a ``MeshConfiguration``.
///
/// Every problem in the file is collected in one pass and reported in file order — malformed YAML, unknown keys,
/// connector IDs and strategies, references to undefined providers and models, bad
/// durations and ranges, missing secrets — and reported together with its YAML path.
///
/// String values may contain `${secrets:NAME}` (resolved through the store configured under
/// `secrets:`, by default the environment) and `${NAME}` (the environment), whole or
/// embedded: `"Bearer ${secrets:hook-token}"`. Relative file paths resolve against the
/// working directory.
///
/// ```swift
/// let configuration = try ConfigurationLoader.load(path: "modelmesh.yaml")
/// ```
public enum ConfigurationLoader {
    /// Loads and validates the file at `path`.
    ///
    /// - Parameters:
    ///   - secrets: A store that replaces the one configured under `secrets:`.
    ///   - environment: The variables `${NAME}` and the environment store read.
    /// - Throws: ``ConfigurationError`` listing every problem.
    public static func load(
        path: String, secrets: (any SecretStore)? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> MeshConfiguration {
        let text = try read(path: path)
        return try parse(yaml: text, secrets: secrets, environment: environment)
    }

    /// Parses and validates YAML text. An empty document is an empty configuration.
    ///
    /// - Throws: ``ConfigurationError`` listing every problem.
    public static func parse(
        yaml: String, secrets: (any SecretStore)? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> MeshConfiguration {
        let (configuration, issues) = decode(yaml: yaml, secrets: secrets, environment: environment)
        guard issues.isEmpty else { throw ConfigurationError(issues: issues) }
        return configuration
    }

    /// Every problem in YAML text; empty when the configuration is usable.
    public static func validate(
        yaml: String, secrets: (any SecretStore)? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> [ConfigurationIssue] {
        decode(yaml: yaml, secrets: secrets, environment: environment).issues
    }

    /// Validates the file at `path` and summarizes the result, as `modelmesh validate` prints it.
    public static func report(
        path: String, secrets: (any SecretStore)? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> ConfigurationReport {
        do {
            let text = try read(path: path)
            let (configuration, issues) = decode(yaml: text, secrets: secrets, environment: environment)
            return ConfigurationReport(path: path, configuration: configuration, issues: issues)
        } catch let error as ConfigurationError {
            return ConfigurationReport(path: path, configuration: nil, issues: error.issues)
        } catch {
            return ConfigurationReport(
                path: path, configuration: nil,
                issues: [.init(kind: .fileNotFound, path: "", message: "Cannot read '\(path)'", hint: nil)])
        }
    }

    /// The typed configuration decoded as far as possible, and every problem found.
    static func decode(
        yaml: String, secrets: (any SecretStore)?, environment: [String: String]
    ) -> (configuration: MeshConfiguration, issues: [ConfigurationIssue]) {
        if let alias = YAMLAliasKeys.first(in: yaml) {
            return (
                MeshConfiguration(),
                [
                    ConfigurationIssue(
                        kind: .malformedYAML, path: "", message: "The alias *\(alias.name) is used as a mapping key",
                        hint: "Write the key out: aliases are not accepted as keys (expanded, they can grow without "
                            + "bound); quote the text if it is not an alias",
                        line: alias.line, column: alias.column)
                ]
            )
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            return (MeshConfiguration(), [malformed(error)])
        }
        guard let root else { return (MeshConfiguration(), []) }
        let interpolator = SecretInterpolator(
            store: nil, storeID: "modelmesh.env.v1", environment: environment, failOnMissing: true)
        var decoder = ConfigurationDecoder(interpolator: interpolator)
        let configuration = decoder.decodeDocument(root, storeOverride: secrets, environment: environment)
        // File order reads best; issues without a position (a whole section) keep their place first.
        let issues = decoder.issues.enumerated()
            .sorted {
                ($0.element.line ?? 0, $0.element.column ?? 0, $0.offset) < (
                    $1.element.line ?? 0, $1.element.column ?? 0, $1.offset
                )
            }
            .map(\.element)
        return (configuration, issues)
    }

    private static func read(path: String) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigurationError(issues: [
                .init(
                    kind: .fileNotFound, path: "", message: "Configuration file not found: \(path)",
                    hint: "Check the path, or run without a file to auto-detect providers from the environment")
            ])
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw ConfigurationError(issues: [
                .init(
                    kind: .fileNotFound, path: "", message: "Cannot read \(path) as UTF-8 text",
                    hint: "Check the file's permissions and encoding")
            ])
        }
        return text
    }

    /// A YAML syntax error as an issue: position and problem only, never the offending text.
    private static func malformed(_ error: any Error) -> ConfigurationIssue {
        var message = "Malformed YAML"
        var mark: Mark?
        switch error as? YamlError {
        case .scanner(let context, let problem, let at, _), .parser(let context, let problem, let at, _),
            .composer(let context, let problem, let at, _):
            message += ": " + problem + (context.map { " (\($0.text))" } ?? "")
            mark = at
        case .reader(let problem, _, _, _):
            message += ": " + problem
        case .duplicatedKeysInMapping(let duplicates, let context):
            message =
                "Duplicate key(s) " + duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ") + " in a mapping"
            mark = context.mark
        default:
            break
        }
        let hint =
            mark.map { "Fix the YAML near line \($0.line), column \($0.column) (check indentation, colons and quotes)" }
            ?? "Check the file's indentation, colons and quotes"
        return ConfigurationIssue(
            kind: .malformedYAML, path: "", message: message, hint: hint, line: mark?.line, column: mark?.column)
    }
}

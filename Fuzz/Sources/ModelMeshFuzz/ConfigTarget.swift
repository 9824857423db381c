import Foundation

@testable import ModelMesh

/// `config`: YAML text through the configuration decoder — `ConfigurationLoader.decode`,
/// the one pass behind `load`, `parse`, `validate` and `report` (what `modelmesh validate`
/// prints) — giving a partial `MeshConfiguration` and the issues found. Invariants:
///
/// 1. No crash, and no blow-up in time or memory (libFuzzer's `-timeout` and
///    `-rss_limit_mb` catch those: a YAML alias bomb is such an input).
/// 2. No resolved secret reaches an issue: the loader promises messages quote the file's
///    text, never a value a `${secrets:…}` or `${NAME}` reference resolved to.
///
/// Secrets come from an in-memory store given in code (as `load(path:secrets:)` allows),
/// and the environment is fixed: the fuzzer never makes the loader open files
/// (`secrets: {store: modelmesh.dotenv.v1, path: …}` would) and runs are reproducible.
/// Inputs that are not UTF-8 are skipped: the loader refuses them before parsing.
enum ConfigTargets {
    /// Values long and odd enough that no decoder message contains them by chance.
    static let secretValue = "sk-fuzz-SECRET-4f9c2a7e"
    static let environmentValue = "env-fuzz-VALUE-81d3b6"

    static let secrets = InMemorySecretStore([
        "OPENAI_API_KEY": secretValue, "ANTHROPIC_API_KEY": secretValue, "GEMINI_API_KEY": secretValue,
        "hook-token": secretValue, "PROXY_TOKEN": secretValue, "MODELMESH_DATABASE_URL": "postgres://u:\(secretValue)@db:5432/mesh",
    ])

    static let environment = [
        "OPENAI_API_KEY": environmentValue, "ANTHROPIC_API_KEY": environmentValue, "HOME": "/home/fuzz",
        "PORT": "8080",
    ]

    static func run(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
        guard let yaml = String(validating: input, as: UTF8.self) else { return -1 }
        let (configuration, issues) = ConfigurationLoader.decode(yaml: yaml, secrets: secrets, environment: environment)

        // What `modelmesh validate` prints.
        let report = ConfigurationReport(path: "modelmesh.yaml", configuration: configuration, issues: issues)
        let text = report.text
        _ = ConfigurationError(issues: issues).description

        // A value the file itself spells out may be quoted; one only a reference produced may not.
        for value in [secretValue, environmentValue] where !yaml.contains(value) {
            if let issue = issues.first(where: { $0.description.contains(value) }) {
                fuzzFailure("an issue shows a resolved secret value: \(issue)\n yaml: \(yaml.debugDescription)")
            }
            if text.contains(value) {
                fuzzFailure("the validate report shows a resolved secret value:\n\(text)\n yaml: \(yaml.debugDescription)")
            }
        }
        return 0
    }
}

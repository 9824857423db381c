import Foundation
import ModelMesh
import Testing

/// The README's configuration example uses only keys that work.
@Suite struct ConfigurationReadmeTests {
    /// Answers every secret with a placeholder.
    struct AnySecret: SecretStore {
        func secret(named name: String) -> String? { "placeholder-\(name)" }
    }

    static func readmeExample() throws -> String {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let section = try #require(text.range(of: "## Configuration\n"))
        let start = try #require(text.range(of: "```yaml\n", range: section.upperBound..<text.endIndex))
        let end = try #require(text.range(of: "\n```", range: start.upperBound..<text.endIndex))
        return String(text[start.upperBound..<end.lowerBound])
    }

    @Test func exampleValidates() throws {
        let yaml = try Self.readmeExample()
        let issues = ConfigurationLoader.validate(
            yaml: yaml, secrets: AnySecret(), environment: ["ANTHROPIC_API_KEY": "placeholder"])
        #expect(issues.isEmpty, "\(issues)")
        let config = try ConfigurationLoader.parse(
            yaml: yaml, secrets: AnySecret(), environment: ["ANTHROPIC_API_KEY": "placeholder"])
        #expect(config.pools.map(\.id) == ["chat", "spread"])
        #expect(config.observability.connectors.map(\.channels) == [[.events], [.events], [.events], [.logs]])
    }
}

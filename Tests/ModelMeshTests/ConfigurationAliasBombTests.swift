import Testing

@testable import ModelMesh

/// YAML alias bombs: a few hundred bytes that expand to billions of values. Both found by
/// the `config` fuzz target's corpus work; before, each kept the loader busy for minutes.
@Suite("YAML alias bombs", .timeLimit(.minutes(1)))
struct ConfigurationAliasBombTests {
    static func bomb(levels: Int) -> String {
        var yaml = "a0: &a0 [\(Array(repeating: "\"lol\"", count: 9).joined(separator: ","))]\n"
        for level in 1...levels {
            yaml += "a\(level): &a\(level) [\(Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ","))]\n"
        }
        return yaml
    }

    @Test("An alias used as a key is refused before the file is composed, with its line")
    func aliasKey() {
        let yaml = Self.bomb(levels: 9) + "? *a9\n: value\n"
        let found = ConfigurationLoader.validate(yaml: yaml, environment: [:])
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.kind == .malformedYAML)
        #expect(found.first?.message.contains("*a9") == true)
        #expect(found.first?.line == 11)
        let block = ConfigurationLoader.validate(yaml: Self.bomb(levels: 2) + "*a2 : value\n", environment: [:])
        #expect(block.first?.message.contains("*a2") == true)
    }

    @Test("Settings that expand past 100,000 values are refused at their path")
    func aliasSettings() {
        let yaml = Self.bomb(levels: 8) + "providers:\n  openai:\n    organization: *a8\n"
        let found = ConfigurationLoader.validate(yaml: yaml, environment: [:])
        let expansion = found.filter { $0.path.hasPrefix("providers.openai.organization") }
        #expect(expansion.count == 1, "\(found.map { ($0.path, $0.message) })")
        #expect(expansion.first?.message.contains("100000") == true)
    }

    @Test("Aliases as values, quoted stars and stars inside words are still fine")
    func ordinaryUse() {
        #expect(YAMLAliasKeys.first(in: "a: &x 1\nb: *x\nc: [*x, *x]\nd: {e: *x}\n") == nil)
        #expect(YAMLAliasKeys.first(in: "a: \"*x: y\"\nb: '*x : y'\nc: a*b: 1\n# *x: comment\n") == nil)
        #expect(YAMLAliasKeys.first(in: "list:\n  - *x: 1\n")?.name == "x")
        #expect(YAMLAliasKeys.first(in: "m: {*k: 1}\n")?.name == "k")
    }
}

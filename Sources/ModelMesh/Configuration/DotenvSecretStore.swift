import Foundation

/// Secrets from a `.env` file (`modelmesh.dotenv.v1`).
///
/// The file holds `NAME=value` lines. Blank lines and lines starting with `#` are skipped,
/// an optional `export ` prefix is ignored, a value wrapped in matching quotes is unwrapped,
/// an unquoted value ends at an inline ` #` comment, and a trailing `\` continues the value
/// on the next line.
public struct DotenvSecretStore: SecretStore {
    private let values: [String: String]

    /// Reads and parses the file at `path`.
    ///
    /// - Throws: ``SecretStoreError/unreadableFile(path:)`` when it cannot be read.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else { throw SecretStoreError.unreadableFile(path: path) }
        self.init(contents: text)
    }

    /// Parses dotenv text.
    public init(contents: String) {
        values = Self.parse(contents)
    }

    public func secret(named name: String) -> String? {
        values[name]
    }

    static func parse(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        var pending = ""
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            var line = pending + rawLine
            pending = ""
            if line.hasSuffix("\\") {
                line.removeLast()
                pending = line
                continue
            }
            if let entry = entry(in: line) { result[entry.key] = entry.value }
        }
        if let entry = entry(in: pending) { result[entry.key] = entry.value }
        return result
    }

    private static func entry(in line: String) -> (key: String, value: String)? {
        var trimmed = line.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { return nil }
        if trimmed.hasPrefix("export ") { trimmed = String(trimmed.dropFirst("export ".count)) }
        guard let split = trimmed.firstIndex(of: "=") else { return nil }
        let key = trimmed[..<split].trimmingCharacters(in: .whitespaces)
        var value = trimmed[trimmed.index(after: split)...].trimmingCharacters(in: .whitespaces)
        guard !key.isEmpty else { return nil }
        if value.count >= 2, let quote = value.first, quote == "\"" || quote == "'", value.last == quote {
            value = String(value.dropFirst().dropLast())
        } else if let comment = value.range(of: " #") ?? value.range(of: "\t#") {
            value = value[..<comment.lowerBound].trimmingCharacters(in: .whitespaces)
        }
        return (key, value)
    }
}

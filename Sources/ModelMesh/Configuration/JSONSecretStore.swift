import Foundation

/// Secrets from a JSON file holding one flat object (`modelmesh.json-secrets.v1`).
///
/// `{"openai-api-key": "sk-...", "port": 8080}`: string, number and boolean members are
/// secrets; nested objects and arrays are ignored.
public struct JSONSecretStore: SecretStore {
    private let values: [String: String]

    /// Reads and parses the file at `path`.
    ///
    /// - Throws: ``SecretStoreError`` when the file cannot be read or is not a JSON object.
    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SecretStoreError.unreadableFile(path: path)
        }
        guard let parsed = Self.parse(data) else {
            throw SecretStoreError.invalidFormat(path: path, expected: "a JSON object")
        }
        values = parsed
    }

    /// A store over already parsed values.
    public init(values: [String: String]) {
        self.values = values
    }

    public func secret(named name: String) -> String? {
        values[name]
    }

    private static func parse(_ data: Data) -> [String: String]? {
        // Decoding errors are dropped: their text may quote the file's contents.
        guard let object = try? JSONDecoder().decode([String: JSONValue].self, from: data) else { return nil }
        return object.compactMapValues { value in
            switch value {
            case .string(let s): s
            case .int(let i): String(i)
            case .double(let d): String(d)
            case .bool(let b): String(b)
            case .null, .array, .object: nil
            }
        }
    }
}

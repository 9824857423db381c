import Yams

/// A YAML mapping as the configuration decoder reads it: string keys in file order, each
/// entry knowing its own path so merged mappings still report where a value came from.
struct YAMLMapping {
    struct Entry {
        var key: String
        var node: Node
        /// Dotted path of the value.
        var path: String
        /// Where the key is written.
        var keyMark: Mark?
    }

    var path: String
    var mark: Mark?
    var entries: [Entry] = []

    subscript(key: String) -> Entry? {
        entries.first { $0.key == key }
    }

    /// The first entry present among alternative spellings of one key.
    func first(_ keys: String...) -> Entry? {
        for key in keys {
            if let entry = self[key] { return entry }
        }
        return nil
    }

    var isEmpty: Bool { entries.isEmpty }

    /// Adds or replaces an entry, keeping the position of a replaced key.
    mutating func set(_ entry: Entry) {
        if let index = entries.firstIndex(where: { $0.key == entry.key }) {
            entries[index] = entry
        } else {
            entries.append(entry)
        }
    }

    /// This mapping with `other`'s entries added; `other` wins on equal keys.
    func merging(_ other: YAMLMapping) -> YAMLMapping {
        var merged = self
        for entry in other.entries { merged.set(entry) }
        return merged
    }

    /// This mapping without the given keys.
    func removing(_ keys: Set<String>) -> YAMLMapping {
        var copy = self
        copy.entries.removeAll { keys.contains($0.key) }
        return copy
    }
}

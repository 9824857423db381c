/// Finds the known names closest to a misspelled one, for "did you mean" hints.
public enum NameSuggestion {
    /// The candidate nearest to `name` by edit distance, if it is close enough to be a typo.
    static func nearest<S: Sequence>(to name: String, in candidates: S) -> String? where S.Element == String {
        let limit = max(2, name.count / 3)
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(name.lowercased(), candidate.lowercased())
            if distance <= limit, distance < (best?.distance ?? .max) { best = (candidate, distance) }
        }
        return best?.name
    }

    /// Up to `limit` candidates close to `name` (by edit distance, or containing it), nearest first.
    public static func ranked(to name: String, in candidates: [String], limit: Int = 3) -> [String] {
        let threshold = max(2, name.count / 3)
        var scored: [(name: String, distance: Int)] = []
        for candidate in Set(candidates) {
            let distance = editDistance(name.lowercased(), candidate.lowercased())
            if distance <= threshold || candidate.contains(name) || name.contains(candidate) {
                scored.append((candidate, distance))
            }
        }
        scored.sort { a, b in a.distance == b.distance ? a.name < b.name : a.distance < b.distance }
        return scored.prefix(limit).map(\.name)
    }

    /// `Did you mean 'x'?`, or `fallback` when nothing is close.
    static func hint<S: Sequence>(for name: String, in candidates: S, otherwise fallback: String) -> String
    where S.Element == String {
        nearest(to: name, in: candidates).map { "Did you mean '\($0)'?" } ?? fallback
    }

    /// Levenshtein distance.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

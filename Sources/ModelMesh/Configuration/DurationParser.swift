import Foundation

/// Parses configuration durations: `500ms`, `30s`, `5m`, `1h`, `1d`, `1.5h`, `30 s`, or a
/// bare number of seconds (`30`, `0.25`).
public enum DurationParser {
    /// The accepted syntax, for error messages.
    public static let syntax = "<number><ms|s|m|h|d>"

    private static let units: [(suffix: String, seconds: Double)] = [
        // `ms` before `m` and `s` so the longest suffix wins.
        ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400),
    ]

    /// The duration `text` denotes, or `nil` when it is not a valid non-negative duration.
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var number = Substring(trimmed)
        var multiplier = 1.0
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            number = trimmed.dropLast(unit.suffix.count)
            multiplier = unit.seconds
            break
        }
        let digits = number.trimmingCharacters(in: .whitespaces)
        // Only plain decimals: no sign, exponent, `inf` or `nan`.
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            digits.filter({ $0 == "." }).count <= 1, digits != ".", let value = Double(digits)
        else { return nil }
        let nanoseconds = (value * multiplier * 1e9).rounded()
        guard nanoseconds < Double(Int64.max) else { return nil }
        return .nanoseconds(Int64(nanoseconds))
    }

    /// The duration of a number of seconds (a YAML number), or `nil` when negative or too large.
    static func seconds(_ value: Double) -> Duration? {
        let nanoseconds = (value * 1e9).rounded()
        guard value.isFinite, value >= 0, nanoseconds < Double(Int64.max) else { return nil }
        return .nanoseconds(Int64(nanoseconds))
    }
}

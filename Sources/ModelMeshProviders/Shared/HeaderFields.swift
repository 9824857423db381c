import Foundation
import ModelMesh

/// Response headers with case-insensitive lookup, and the header values both vendors use.
///
/// Shared by the Anthropic and Gemini translators.
struct HeaderFields: Sendable {
    private var values: [String: String] = [:]

    init(_ pairs: [(String, String)]) {
        for (name, value) in pairs {
            // First occurrence wins, as for a single-valued header.
            let key = name.lowercased()
            if values[key] == nil { values[key] = String(value.trimmingASCIIWhitespace()) }
        }
    }

    init(_ dictionary: [String: String]) {
        self.init(dictionary.map { ($0.key, $0.value) })
    }

    subscript(_ name: String) -> String? { values[name.lowercased()] }

    /// An integer header value.
    func int(_ name: String) -> Int? { self[name].flatMap { Int($0) } }

    /// `Retry-After`: delay-seconds (integral or fractional) or an HTTP-date relative to `now`.
    func retryAfter(now: Date) -> Duration? {
        guard let raw = self["retry-after"], !raw.isEmpty else { return nil }
        if let seconds = Double(raw), seconds.isFinite, seconds >= 0 { return .seconds(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: raw) else { return nil }
        let seconds = max(0, date.timeIntervalSince(now))
        return .seconds(seconds)
    }

    /// An RFC 3339 timestamp header value (with or without fractional seconds).
    func rfc3339Date(_ name: String) -> Date? {
        guard let raw = self[name] else { return nil }
        return Self.parseRFC3339(raw)
    }

    static func parseRFC3339(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
            return date
        }
        return try? Date(text, strategy: Date.ISO8601FormatStyle())
    }
}

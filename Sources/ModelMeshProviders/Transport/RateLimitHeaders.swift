import Foundation
import ModelMesh
import NIOHTTP1

/// The header names under which a vendor reports its rate limits.
///
/// OpenAI and most of its family use `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`;
/// Anthropic uses `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}`.
public struct RateLimitHeaderNames: Sendable, Hashable {
    public var limitRequests: String
    public var remainingRequests: String
    public var resetRequests: String
    public var limitTokens: String
    public var remainingTokens: String
    public var resetTokens: String
    /// Un-suffixed names some servers send instead (`x-ratelimit-limit`, ...), read as request limits.
    public var fallbackLimit: String?
    public var fallbackRemaining: String?
    public var fallbackReset: String?

    public init(
        limitRequests: String, remainingRequests: String, resetRequests: String, limitTokens: String,
        remainingTokens: String, resetTokens: String, fallbackLimit: String? = nil, fallbackRemaining: String? = nil,
        fallbackReset: String? = nil
    ) {
        self.limitRequests = limitRequests
        self.remainingRequests = remainingRequests
        self.resetRequests = resetRequests
        self.limitTokens = limitTokens
        self.remainingTokens = remainingTokens
        self.resetTokens = resetTokens
        self.fallbackLimit = fallbackLimit
        self.fallbackRemaining = fallbackRemaining
        self.fallbackReset = fallbackReset
    }

    /// `x-ratelimit-limit-requests`, ... with the un-suffixed `x-ratelimit-limit` family as fallback.
    public static let openAI = RateLimitHeaderNames(
        limitRequests: "x-ratelimit-limit-requests", remainingRequests: "x-ratelimit-remaining-requests",
        resetRequests: "x-ratelimit-reset-requests", limitTokens: "x-ratelimit-limit-tokens",
        remainingTokens: "x-ratelimit-remaining-tokens", resetTokens: "x-ratelimit-reset-tokens",
        fallbackLimit: "x-ratelimit-limit", fallbackRemaining: "x-ratelimit-remaining",
        fallbackReset: "x-ratelimit-reset")

    /// `anthropic-ratelimit-requests-limit`, ...
    public static let anthropic = RateLimitHeaderNames(
        limitRequests: "anthropic-ratelimit-requests-limit",
        remainingRequests: "anthropic-ratelimit-requests-remaining",
        resetRequests: "anthropic-ratelimit-requests-reset", limitTokens: "anthropic-ratelimit-tokens-limit",
        remainingTokens: "anthropic-ratelimit-tokens-remaining", resetTokens: "anthropic-ratelimit-tokens-reset")
}

/// Reads `Retry-After` and `x-ratelimit-*` response headers.
public enum RateLimitHeaders {
    /// The rate-limit status the headers report, or `nil` when they report nothing.
    ///
    /// Reset values may be durations (`1s`, `6m0s`, `20ms`, `1h2m3.5s`, bare seconds) or
    /// RFC 3339 / HTTP dates; durations are counted from `now`.
    public static func parse(_ headers: HTTPHeaders, names: RateLimitHeaderNames = .openAI, now: Date)
        -> RateLimitStatus?
    {
        func int(_ name: String?) -> Int? {
            guard let name, let text = headers.first(name: name)?.trimmingASCIIWhitespace() else {
                return nil
            }
            if let value = Int(text) { return value }
            // Some servers send `100.0`.
            if let value = Double(text), value.isFinite, value >= 0, value < 9e15 { return Int(value) }
            return nil
        }
        func date(_ name: String?) -> Date? {
            guard let name, let text = headers.first(name: name) else { return nil }
            return resetDate(text, now: now)
        }
        let status = RateLimitStatus(
            limitRequests: int(names.limitRequests) ?? int(names.fallbackLimit),
            remainingRequests: int(names.remainingRequests) ?? int(names.fallbackRemaining),
            limitTokens: int(names.limitTokens),
            remainingTokens: int(names.remainingTokens),
            resetRequestsAt: date(names.resetRequests) ?? date(names.fallbackReset),
            resetTokensAt: date(names.resetTokens))
        return status == RateLimitStatus() ? nil : status
    }

    /// How long `Retry-After` (or `retry-after-ms`) asks the client to wait, or `nil` without
    /// a readable value. An HTTP date in the past gives zero.
    public static func retryAfter(_ headers: HTTPHeaders, now: Date) -> Duration? {
        if let ms = headers.first(name: "retry-after-ms").flatMap({ Double($0.trimmingASCIIWhitespace()) }),
            ms.isFinite, ms >= 0
        {
            return .seconds(ms / 1000)
        }
        guard let text = headers.first(name: "retry-after").map({ String($0.trimmingASCIIWhitespace()) }), !text.isEmpty else {
            return nil
        }
        if let seconds = Double(text), seconds.isFinite {
            return .seconds(max(0, seconds))
        }
        guard let date = HTTPDate.parse(text) else { return nil }
        return .seconds(max(0, date.timeIntervalSince(now)))
    }

    /// A reset value as an absolute time.
    static func resetDate(_ text: String, now: Date) -> Date? {
        let trimmed = String(text.trimmingASCIIWhitespace())
        // A bare number this large is a Unix timestamp, not a number of seconds.
        if let number = Double(trimmed), number > 1_000_000_000 { return Date(timeIntervalSince1970: number) }
        if let duration = parseDuration(trimmed) { return now.adding(duration) }
        if let date = try? Date(trimmed, strategy: .iso8601) { return date }
        return HTTPDate.parse(trimmed)
    }

    /// Parses Go-style durations (`1s`, `6m0s`, `20ms`, `1h2m3.5s`, `150us`) and bare seconds.
    public static func parseDuration(_ text: String) -> Duration? {
        if text.isEmpty { return nil }
        if let seconds = Double(text) { return seconds.isFinite && seconds >= 0 ? .seconds(seconds) : nil }
        var total = 0.0
        var number = ""
        var unit = ""
        var sawComponent = false
        func flush() -> Bool {
            guard let value = Double(number) else { return false }
            let scale: Double
            switch unit {
            case "h": scale = 3600
            case "m": scale = 60
            case "s": scale = 1
            case "ms": scale = 1e-3
            case "us", "µs": scale = 1e-6
            case "ns": scale = 1e-9
            default: return false
            }
            total += value * scale
            number = ""
            unit = ""
            sawComponent = true
            return true
        }
        for character in text {
            if character.isNumber || character == "." {
                if !unit.isEmpty, !flush() { return nil }
                number.append(character)
            } else if character.isLetter {
                if number.isEmpty { return nil }
                unit.append(character)
            } else {
                return nil
            }
        }
        if !number.isEmpty || !unit.isEmpty {
            if !flush() { return nil }
        }
        return sawComponent && total.isFinite ? .seconds(total) : nil
    }
}

/// HTTP dates (`Wed, 21 Oct 2015 07:28:00 GMT`, and the obsolete RFC 850 and asctime forms).
enum HTTPDate {
    private static let formats = [
        "EEE, dd MMM yyyy HH:mm:ss zzz",
        "EEEE, dd-MMM-yy HH:mm:ss zzz",
        "EEE MMM d HH:mm:ss yyyy",
    ]

    static func parse(_ text: String) -> Date? {
        for format in formats {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}

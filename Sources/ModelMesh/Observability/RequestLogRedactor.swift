import Foundation

/// Prepares a ``RequestLogEntry`` for the request-log channel: keeps as much of the prompt and
/// response as the log level allows and masks secrets.
///
/// - `metadata`: prompt and response are dropped;
/// - `summary`: they are cut to ``summaryLength`` characters (an ellipsis marks the cut);
/// - `full`: they are kept whole.
///
/// With ``maxPayloadBytes`` set (`logging.max_payload_size`), prompt and response are then
/// cut to at most that many UTF-8 bytes, marker included (``cut(_:toBytes:)``).
///
/// With ``redactSecrets`` on, prompt, response and error text are masked: every occurrence
/// of a known secret value, `Bearer <token>`, `Authorization: Basic <credentials>`, values of
/// `x-api-key`, `api_key`, `access_token`, `client_secret`, `password` style keys (`key: value`,
/// `key=value`, JSON), and provider-style keys (`sk-…`, `gsk_…`, `xai-…`, `pplx-…`, `AIza…`)
/// become `***`.
///
/// ```swift
/// let redactor = RequestLogRedactor(level: .summary, knownSecrets: [openAIKey])
/// emitter.log(redactor.redact(entry))
/// ```
public struct RequestLogRedactor: Sendable {
    /// How much of the payloads to keep.
    public var level: RequestLogLevel
    /// Whether to mask secrets.
    public var redactSecrets: Bool
    /// The number of characters of prompt and response kept at level `summary`.
    public var summaryLength: Int
    /// The largest prompt or response kept, in UTF-8 bytes (`nil`: no limit).
    public var maxPayloadBytes: Int?
    private var knownSecrets: [String]

    /// A copy that also masks `secrets` (keys a configuration reload brought in; the old
    /// ones stay masked).
    func adding(secrets: [String]) -> RequestLogRedactor {
        var copy = self
        copy.knownSecrets = Set((knownSecrets + secrets).filter { $0.count >= 4 }).sorted { $0.count > $1.count }
        return copy
    }

    /// Ends text cut by ``maxPayloadBytes``.
    public static let cutMarker = "…[truncated]"

    /// Creates a redactor.
    ///
    /// - Parameter knownSecrets: secret values to mask wherever they appear (API keys, proxy
    ///   tokens). Values shorter than 4 characters are ignored: masking them would garble text.
    public init(
        level: RequestLogLevel, knownSecrets: [String] = [], redactSecrets: Bool = true, summaryLength: Int = 200,
        maxPayloadBytes: Int? = nil
    ) {
        self.level = level
        self.redactSecrets = redactSecrets
        self.summaryLength = max(0, summaryLength)
        self.maxPayloadBytes = maxPayloadBytes.map { max(0, $0) }
        // Longest first, so a secret containing another is masked whole.
        self.knownSecrets = Set(knownSecrets.filter { $0.count >= 4 }).sorted { $0.count > $1.count }
    }

    /// Creates a redactor with the log level, redaction switch and payload limit of `configuration`.
    public init(configuration: ObservabilityConfiguration, knownSecrets: [String] = []) {
        self.init(
            level: configuration.logLevel, knownSecrets: knownSecrets, redactSecrets: configuration.redactSecrets,
            maxPayloadBytes: configuration.maxPayloadSize)
    }

    /// The entry as it may be logged.
    public func redact(_ entry: RequestLogEntry) -> RequestLogEntry {
        var entry = entry
        switch level {
        case .metadata:
            entry.prompt = nil
            entry.response = nil
        case .summary:
            entry.prompt = entry.prompt.map { truncate(mask($0)) }
            entry.response = entry.response.map { truncate(mask($0)) }
        case .full:
            entry.prompt = entry.prompt.map(mask)
            entry.response = entry.response.map(mask)
        }
        entry.error = entry.error.map(mask)
        if let maxPayloadBytes { entry = Self.limitPayloads(of: entry, toBytes: maxPayloadBytes) }
        return entry
    }

    /// `entry` with its prompt and response cut to at most `limit` UTF-8 bytes each.
    public static func limitPayloads(of entry: RequestLogEntry, toBytes limit: Int) -> RequestLogEntry {
        var entry = entry
        entry.prompt = entry.prompt.map { cut($0, toBytes: limit) }
        entry.response = entry.response.map { cut($0, toBytes: limit) }
        return entry
    }

    /// `text` if it fits in `limit` UTF-8 bytes; otherwise its longest prefix of whole
    /// characters that fits together with ``cutMarker``, followed by the marker (just the
    /// prefix when `limit` is smaller than the marker). The result never exceeds `limit`
    /// bytes, so cutting twice changes nothing.
    public static func cut(_ text: String, toBytes limit: Int) -> String {
        let limit = max(0, limit)
        guard text.utf8.count > limit else { return text }
        let marker = cutMarker.utf8.count <= limit ? cutMarker : ""
        let budget = limit - marker.utf8.count
        var used = 0
        var end = text.startIndex
        for character in text {
            let size = character.utf8.count
            guard used + size <= budget else { break }
            used += size
            end = text.index(after: end)
        }
        return String(text[..<end]) + marker
    }

    /// `text` with every secret replaced by `***` (unchanged when ``redactSecrets`` is off).
    public func mask(_ text: String) -> String {
        guard redactSecrets, !text.isEmpty else { return text }
        var result = text
        for secret in knownSecrets where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: "***")
        }
        for (pattern, template) in Self.patterns {
            let range = NSRange(result.startIndex..., in: result)
            result = pattern.stringByReplacingMatches(in: result, range: range, withTemplate: template)
        }
        return result
    }

    private func truncate(_ text: String) -> String {
        text.count > summaryLength ? String(text.prefix(summaryLength)) + "…" : text
    }

    // The bearer token needs 8+ characters so prose ("the bearer of news") stays readable.
    private static let patterns: [(NSRegularExpression, String)] = [
        (#"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=\-]{8,}"#, "$1 ***"),
        (#"(?i)\b(authorization["']?\s*[:=]\s*["']?basic)\s+[A-Za-z0-9+/=]+"#, "$1 ***"),
        (
            #"(?i)\b((?:x-)?(?:api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret|secret[_-]?key|password)"#
                + #"["']?\s*[:=]\s*["']?)(?!\*\*\*)[^\s"'&,;}]+"#, "$1***"
        ),
        (#"\b(?:sk-|gsk_|xai-|pplx-|AIza)[A-Za-z0-9_\-]{16,}"#, "***"),
    ].compactMap { source, template in
        (try? NSRegularExpression(pattern: source)).map { ($0, template) }
    }
}

import Foundation

/// One lifecycle change, published to every subscribed ``ObservabilityConnector``.
///
/// Its JSON form uses the wire keys `event_type`, `timestamp` (ISO-8601 UTC with
/// milliseconds), `model_id`, `provider_id`, `pool_id` and `metadata`; absent ids are `null`.
public struct RoutingEvent: Sendable, Codable, Hashable {
    /// What happened.
    public var eventType: EventType
    /// When it happened.
    public var timestamp: Date
    /// The model concerned, if any (for `model_rotated`, the model the request moved to).
    public var modelID: String?
    /// The provider concerned, if any.
    public var providerID: String?
    /// The pool concerned, if any.
    public var poolID: String?
    /// Event-specific details, e.g. `reason`, `cooldown_until`, `from_model`.
    public var metadata: [String: JSONValue]

    /// Creates an event; everything after `eventType` has a default.
    public init(
        eventType: EventType,
        timestamp: Date = Date(),
        modelID: String? = nil,
        providerID: String? = nil,
        poolID: String? = nil,
        metadata: [String: JSONValue] = [:]
    ) {
        self.eventType = eventType
        self.timestamp = timestamp
        self.modelID = modelID
        self.providerID = providerID
        self.poolID = poolID
        self.metadata = metadata
    }

    enum CodingKeys: String, CodingKey {
        case eventType = "event_type"
        case timestamp
        case modelID = "model_id"
        case providerID = "provider_id"
        case poolID = "pool_id"
        case metadata
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        eventType = try c.decode(EventType.self, forKey: .eventType)
        let stamp = try c.decode(String.self, forKey: .timestamp)
        guard let date = Timestamp.parse(stamp) else {
            throw DecodingError.dataCorruptedError(
                forKey: .timestamp, in: c, debugDescription: "Expected an ISO-8601 timestamp, got '\(stamp)'")
        }
        timestamp = date
        modelID = try c.decodeIfPresent(String.self, forKey: .modelID)
        providerID = try c.decodeIfPresent(String.self, forKey: .providerID)
        poolID = try c.decodeIfPresent(String.self, forKey: .poolID)
        metadata = try c.decodeIfPresent([String: JSONValue].self, forKey: .metadata) ?? [:]
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(eventType, forKey: .eventType)
        try c.encode(Timestamp.format(timestamp), forKey: .timestamp)
        // Absent ids are written as null so every event line has the same keys.
        try c.encode(modelID, forKey: .modelID)
        try c.encode(providerID, forKey: .providerID)
        try c.encode(poolID, forKey: .poolID)
        try c.encode(metadata, forKey: .metadata)
    }

    /// The event as one line of JSON (no trailing newline), keys sorted.
    public func jsonLine() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// ISO-8601 UTC timestamps with milliseconds, as used in every wire format of ModelMesh.
public enum Timestamp {
    /// Formats `date` as `2026-01-31T12:00:00.123Z`.
    public static func format(_ date: Date) -> String {
        // Whole milliseconds first, then the fraction by hand: the formatter truncates, and a
        // Double just below .127 would print as .126.
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let fraction = ((ms % 1000) + 1000) % 1000
        let seconds = Date(timeIntervalSince1970: Double((ms - fraction) / 1000))
        let base = seconds.formatted(Date.ISO8601FormatStyle(timeZone: .gmt))  // ...T12:00:00Z
        let digits = String(fraction)
        return base.dropLast() + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }

    /// Parses an ISO-8601 timestamp with or without fractional seconds.
    public static func parse(_ text: String) -> Date? {
        if let d = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return d }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}

import Foundation

/// A weekly standby window: while it is open, the pool members it covers are filtered out
/// with reason `maintenance_window` (``FilterReason/maintenanceWindow(until:)``, shown by
/// `explain`), and no recovery probe is sent to them. The model's own state does not change
/// and no event is emitted: once the window closes, the model serves again.
///
/// YAML, under a pool's `deactivation:` (one mapping, or a list of them):
///
/// ```yaml
/// maintenance_window:
///   days: [sat]                 # optional: mon ... sun (default: every day)
///   start: "02:00"              # HH:MM, 24-hour clock
///   end: "04:00"                # an end at or before the start runs past midnight
///   timezone: UTC               # optional: UTC (default), an offset such as +02:00, or an IANA name
///   models: [openai.gpt-4o]     # optional: only these members (default: every member)
///   providers: [openai]         # optional: only members of these providers
/// ```
///
/// A window that runs past midnight belongs to the day it starts on: `days: [sat]`,
/// `start: "23:00"`, `end: "01:00"` is open from Saturday 23:00 to Sunday 01:00. `start`
/// equal to `end` is a whole day. Times are read in the zone's offset at the moment checked.
public struct MaintenanceWindow: Sendable, Hashable {
    /// A day of the week.
    public enum Weekday: Int, Sendable, Hashable, CaseIterable {
        case sunday = 0
        case monday, tuesday, wednesday, thursday, friday, saturday

        /// `mon`, `monday`, `Mon`, ... ; `nil` for anything else.
        public init?(name: String) {
            let prefix = name.lowercased().prefix(3)
            guard name.count >= 3,
                let day = Self.allCases.first(where: { "\($0)".hasPrefix(prefix) }),
                "\(day)".hasPrefix(name.lowercased())
            else { return nil }
            self = day
        }
    }

    /// The days a window may start on; empty means every day.
    public var days: Set<Weekday>
    /// Minutes after local midnight the window opens.
    public var start: Int
    /// Minutes after local midnight the window closes (at or before ``start``: the next day).
    public var end: Int
    public var timeZone: TimeZone
    /// Only these model ids (`nil`: every member).
    public var models: Set<String>?
    /// Only members of these providers (`nil`: every member).
    public var providers: Set<String>?

    public init(
        days: Set<Weekday> = [], start: Int, end: Int, timeZone: TimeZone = TimeZone(secondsFromGMT: 0) ?? .current,
        models: Set<String>? = nil, providers: Set<String>? = nil
    ) {
        self.days = days
        self.start = start
        self.end = end
        self.timeZone = timeZone
        self.models = models
        self.providers = providers
    }

    /// Whether the window covers `model` of `provider`.
    public func covers(model: String, provider: String) -> Bool {
        (models?.contains(model) ?? true) && (providers?.contains(provider) ?? true)
    }

    /// When the window open at `date` closes, or `nil` when it is closed at `date`.
    public func openUntil(_ date: Date) -> Date? {
        let local = date.timeIntervalSince1970 + Double(timeZone.secondsFromGMT(for: date))
        let dayNumber = (local / 86_400).rounded(.down)
        let second = local - dayNumber * 86_400
        // 1970-01-01 was a Thursday.
        let weekday = ((Int(dayNumber) + 4) % 7 + 7) % 7
        func starts(on day: Int) -> Bool {
            days.isEmpty || Weekday(rawValue: (day + 7) % 7).map(days.contains) == true
        }
        let (open, close) = (Double(start * 60), Double(end * 60))
        if close > open {
            guard starts(on: weekday), second >= open, second < close else { return nil }
            return date.addingTimeInterval(close - second)
        }
        if starts(on: weekday), second >= open { return date.addingTimeInterval(86_400 - second + close) }
        if starts(on: weekday - 1), second < close { return date.addingTimeInterval(close - second) }
        return nil
    }
}

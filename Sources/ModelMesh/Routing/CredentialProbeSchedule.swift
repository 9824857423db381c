import Foundation
import Synchronization

/// When to next list the models of a provider that is out for bad credentials: 30 s
/// after the deactivation, then twice as long after each refused probe, at most 15 min.
final class CredentialProbeSchedule: Sendable {
    /// How often the background task looks for due probes.
    static let tick: Duration = .seconds(5)
    static let first: Duration = .seconds(30)
    static let longest: Duration = .seconds(900)

    private struct Entry {
        var refused = 0
        var next: Date?
    }

    private let entries = Mutex<[String: Entry]>([:])

    init() {}

    /// Whether a probe of `provider`, deactivated at `deactivatedAt` (nil: unknown, as
    /// after a restart; counted from the first look), is due at `now`.
    func isDue(_ provider: String, deactivatedAt: Date?, now: Date) -> Bool {
        entries.withLock { map in
            if let next = map[provider]?.next { return now >= next }
            let next = (deactivatedAt ?? now).adding(Self.first)
            map[provider] = Entry(refused: 0, next: next)
            return now >= next
        }
    }

    /// A probe was refused: the next one waits twice as long.
    func failed(_ provider: String, now: Date) {
        entries.withLock { map in
            var entry = map[provider] ?? Entry()
            entry.refused += 1
            let wait = min(Self.first.seconds * pow(2, Double(entry.refused)), Self.longest.seconds)
            entry.next = now.adding(.seconds(wait))
            map[provider] = entry
        }
    }

    /// The provider is back: a later deactivation starts the schedule afresh.
    func reset(_ provider: String) {
        entries.withLock { _ = $0.removeValue(forKey: provider) }
    }
}

import Foundation

/// The time source of the engine. Backoff, cooldowns, recovery, budgets' UTC days and
/// event timestamps all read it, so tests can drive time instead of sleeping.
public protocol MeshClock: Sendable {
    /// The current wall-clock time.
    func now() -> Date
    /// Suspends for `duration` (throws `CancellationError` when the task is cancelled).
    func sleep(for duration: Duration) async throws
}

/// The real clock.
public struct SystemClock: MeshClock {
    public init() {}
    public func now() -> Date { Date() }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}

extension Duration {
    /// The duration in (fractional) seconds.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }

    /// A duration of `seconds` (fractional) seconds, at most a century either way (not a
    /// number: zero). Values read from upstream headers and bodies pass through here, and
    /// none of them may trap the conversion to whole nanoseconds.
    public static func seconds(_ value: Double) -> Duration {
        let clamped = value.isNaN ? 0 : Swift.min(Swift.max(value, -centurySeconds), centurySeconds)
        return .nanoseconds(Int64((clamped * 1e9).rounded()))
    }

    /// A hundred years: longer than anything waits for; far from `Int64.max` nanoseconds, so
    /// deadlines can still be added to it.
    static let centurySeconds = 3_155_760_000.0
}

extension Date {
    /// This date moved by `duration`.
    public func adding(_ duration: Duration) -> Date { addingTimeInterval(duration.seconds) }
}

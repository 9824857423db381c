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

    /// A duration of `seconds` (fractional) seconds.
    public static func seconds(_ value: Double) -> Duration {
        .nanoseconds(Int64((value * 1e9).rounded()))
    }
}

extension Date {
    /// This date moved by `duration`.
    public func adding(_ duration: Duration) -> Date { addingTimeInterval(duration.seconds) }
}

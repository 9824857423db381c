import Foundation
import ModelMesh
import Synchronization

/// A virtual clock for tests: `sleep` returns at once and moves time forward, and every
/// requested sleep is recorded, so backoff, cooldowns and recovery can be asserted
/// exactly and run in microseconds.
///
/// ```swift
/// let clock = TestClock()
/// let mesh = try Mesh(configuration: config, providers: registry, clock: clock)
/// // ... a request that retried twice ...
/// #expect(clock.sleeps == [.milliseconds(500), .milliseconds(1000)])
/// ```
public final class TestClock: MeshClock {
    private struct State {
        var now: Date
        var sleeps: [Duration] = []
    }

    private let state: Mutex<State>

    /// A clock starting at `start` (default: 2026-01-15T12:00:00Z).
    public init(start: Date = Date(timeIntervalSince1970: 1_768_478_400)) {
        state = Mutex(State(now: start))
    }

    public func now() -> Date { state.withLock { $0.now } }

    public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        state.withLock {
            $0.sleeps.append(duration)
            $0.now = $0.now.adding(duration)
        }
        await Task.yield()
    }

    /// Moves time forward without a sleep.
    public func advance(by duration: Duration) {
        state.withLock { $0.now = $0.now.adding(duration) }
    }

    /// Every sleep requested so far, in order.
    public var sleeps: [Duration] { state.withLock { $0.sleeps } }

    /// Forgets the recorded sleeps.
    public func resetSleeps() { state.withLock { $0.sleeps.removeAll() } }
}

/// Tells the state saver that something worth persisting changed, without making the
/// caller wait: signals coalesce while a save is running, so a burst of changes costs
/// one write after the burst, never one per change on the request path.
final class StateChangeSignal: Sendable {
    let changes: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    /// Off unless the storage syncs on every change (`sync_policy: immediate`).
    let isEnabled: Bool

    init(enabled: Bool) {
        isEnabled = enabled
        (changes, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    func signal() {
        if isEnabled { continuation.yield() }
    }

    /// Ends the stream of changes (at shutdown).
    func finish() { continuation.finish() }
}

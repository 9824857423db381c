import Synchronization

/// The number of client connections open on one server, shared by all of its event loops.
final class ConnectionCount: Sendable {
    private let open = Atomic<Int>(0)

    /// Counts a new connection and returns how many are open with it.
    func opened() -> Int {
        open.wrappingAdd(1, ordering: .relaxed).newValue
    }

    func closed() {
        open.wrappingSubtract(1, ordering: .relaxed)
    }

    var current: Int { open.load(ordering: .relaxed) }
}

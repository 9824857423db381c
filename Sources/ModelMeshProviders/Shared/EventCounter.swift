import Synchronization

/// A shared, lock-free count (for example of stream events that could not be decoded).
///
/// A class holding the atomic rather than an `Atomic` stored in each connector: connectors
/// have throwing initialisers, and the optimiser of Swift 6.3 crashes on the partial
/// clean-up of an `Atomic` member when such an initialiser throws.
final class EventCounter: Sendable {
    private let count = Atomic<Int>(0)

    /// Adds one.
    func increment() { count.add(1, ordering: .relaxed) }

    /// The current count.
    var value: Int { count.load(ordering: .relaxed) }
}

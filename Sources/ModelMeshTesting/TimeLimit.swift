/// Thrown by ``withTimeLimit(_:_:)`` when the operation took too long.
public struct TimeLimitExceeded: Error, CustomStringConvertible {
    public let limit: Duration
    public var description: String { "The operation did not finish within \(limit)" }
}

/// Runs `operation`, failing with ``TimeLimitExceeded`` if it takes longer than `limit`.
///
/// A guard against a test hanging on a wait that never ends, not a synchronization device.
public func withTimeLimit<T: Sendable>(
    _ limit: Duration = .seconds(5), _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimeLimitExceeded(limit: limit)
        }
        defer { group.cancelAll() }
        guard let value = try await group.next() else { throw TimeLimitExceeded(limit: limit) }
        return value
    }
}

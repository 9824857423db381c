import Foundation
import ModelMesh
import NIOCore
import Synchronization

/// The open `/v1/mesh/events` streams, so shutdown can end them all.
///
/// Each subscriber gets its own bounded buffer; a slow client loses the oldest events
/// rather than holding up routing.
final class EventStreamHub: Sendable {
    private struct State {
        var closed = false
        var nextID: UInt64 = 0
        var open: [UInt64: AsyncStream<ByteBuffer>.Continuation] = [:]
    }

    private let state = Mutex(State())

    /// A new subscriber's stream of encoded SSE events, or nil once the hub is closed.
    func open(bufferSize: Int = 1024) -> (
        id: UInt64, events: AsyncStream<ByteBuffer>, continuation: AsyncStream<ByteBuffer>.Continuation
    )? {
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream(bufferingPolicy: .bufferingNewest(bufferSize))
        let id: UInt64? = state.withLock { s in
            guard !s.closed else { return nil }
            s.nextID += 1
            s.open[s.nextID] = continuation
            return s.nextID
        }
        guard let id else {
            continuation.finish()
            return nil
        }
        return (id, stream, continuation)
    }

    /// Forgets a subscriber that went away.
    func remove(_ id: UInt64) {
        _ = state.withLock { $0.open.removeValue(forKey: id) }
    }

    /// Ends every open stream and refuses new ones.
    func close() {
        let open = state.withLock { s in
            s.closed = true
            defer { s.open.removeAll() }
            return Array(s.open.values)
        }
        for continuation in open { continuation.finish() }
    }

    /// Whether ``close()`` was called: the server is shutting down.
    var isClosed: Bool { state.withLock { $0.closed } }

    /// Number of open streams.
    var count: Int { state.withLock { $0.open.count } }
}

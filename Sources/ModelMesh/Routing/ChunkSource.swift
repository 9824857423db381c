import Foundation

/// Pulls chunks from one upstream stream with a deadline per chunk.
///
/// Used by exactly one consumer at a time (the stream relay), which is what makes the
/// unchecked sendability sound: the iterator is never touched concurrently.
final class ChunkSource: @unchecked Sendable {
    private var iterator: AsyncThrowingStream<ChatCompletionChunk, any Error>.AsyncIterator
    /// The connector enforces the deadlines itself (``ProviderConnector/enforcesStreamDeadlines``).
    private let enforcedUpstream: Bool

    init(_ stream: AsyncThrowingStream<ChatCompletionChunk, any Error>, enforcedUpstream: Bool = false) {
        iterator = stream.makeAsyncIterator()
        self.enforcedUpstream = enforcedUpstream
    }

    /// The next chunk, `nil` at the normal end, or a `.timeout` error when the upstream
    /// stays silent for `timeout`. Stream deadlines run on real time: they guard real
    /// sockets.
    func next(timeout: Duration, what: String) async throws -> ChatCompletionChunk? {
        // A timer per chunk (two child tasks and a sleep) is most of a relayed chunk's cost;
        // connectors that watch their own sockets make it unnecessary.
        if enforcedUpstream { return try await pull() }
        return try await withThrowingTaskGroup(of: ChatCompletionChunk?.self) { group in
            group.addTask { try await self.pull() }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw ProviderError.streamSilent(for: timeout, setting: what)
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }

    private func pull() async throws -> ChatCompletionChunk? {
        try await iterator.next()
    }
}

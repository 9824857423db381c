import Foundation

/// Pulls chunks from one upstream stream with a deadline per chunk.
///
/// Used by exactly one consumer at a time (the stream relay), which is what makes the
/// unchecked sendability sound: the iterator is never touched concurrently.
final class ChunkSource: @unchecked Sendable {
    private var iterator: AsyncThrowingStream<ChatCompletionChunk, any Error>.AsyncIterator

    init(_ stream: AsyncThrowingStream<ChatCompletionChunk, any Error>) {
        iterator = stream.makeAsyncIterator()
    }

    /// The next chunk, `nil` at the normal end, or a `.timeout` error when the upstream
    /// stays silent for `timeout`. Stream deadlines run on real time: they guard real
    /// sockets.
    func next(timeout: Duration, what: String) async throws -> ChatCompletionChunk? {
        try await withThrowingTaskGroup(of: ChatCompletionChunk?.self) { group in
            group.addTask { try await self.pull() }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw ProviderError(.timeout, message: "The upstream sent nothing for \(timeout.seconds)s (\(what))")
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }

    private func pull() async throws -> ChatCompletionChunk? {
        try await iterator.next()
    }
}

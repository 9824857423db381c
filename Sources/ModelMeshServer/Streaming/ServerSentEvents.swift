import Foundation
import HTTPTypes
import Hummingbird
import ModelMesh
import NIOCore

/// Server-sent events framing: `data: <payload>` and a blank line per event.
enum ServerSentEvents {
    /// Headers of every event-stream response.
    static var headers: HTTPFields {
        [.contentType: "text/event-stream", .cacheControl: "no-cache", HTTPField.Name("x-accel-buffering")!: "no"]
    }

    /// The end-of-stream marker of OpenAI streams.
    static let done = ByteBuffer(string: "data: [DONE]\n\n")

    /// One `data:` event around `json`.
    static func event(json: some Collection<UInt8>) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(json.count + 8)
        buffer.writeString("data: ")
        buffer.writeBytes(json)
        buffer.writeString("\n\n")
        return buffer
    }

    /// One `data:` event around a string payload.
    static func event(_ text: String) -> ByteBuffer {
        ByteBuffer(string: "data: \(text)\n\n")
    }

    /// A comment line: ignored by clients, keeps idle connections alive.
    static func comment(_ text: String) -> ByteBuffer {
        ByteBuffer(string: ": \(text)\n\n")
    }
}

/// Relays a routed chat stream to the client, chunk by chunk.
enum ChatStreamRelay {
    /// Writes each chunk as it arrives (the writer's backpressure paces the upstream), then
    /// `data: [DONE]`. A stream that breaks after output began ends with one in-band error
    /// event and no `[DONE]`, so the client cannot mistake it for a complete answer.
    ///
    /// A failed write (the client went away) throws out of here; dropping the iterator
    /// cancels the upstream.
    static func relay(
        _ chunks: AsyncThrowingStream<ChatCompletionChunk, any Error>, requestID: String,
        to writer: inout any ResponseBodyWriter
    ) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        var iterator = chunks.makeAsyncIterator()
        while true {
            let next: ChatCompletionChunk?
            do {
                next = try await iterator.next()
            } catch {
                try await writer.write(ProxyError(error).serverSentEvent(requestID: requestID))
                try await writer.finish(nil)
                return
            }
            guard let chunk = next else { break }
            if let bytes = chunk.wireBytes {
                // An upstream's chunk unchanged: its own bytes, unknown members included.
                try await writer.write(ServerSentEvents.event(json: bytes.bytes))
            } else {
                try await writer.write(ServerSentEvents.event(json: try encoder.encode(chunk)))
            }
        }
        // A stream ended by cancellation (shutdown deadline) is incomplete: say so instead of [DONE].
        if Task.isCancelled {
            let error = ProxyError(
                .serviceUnavailable, "The stream was cut off before it completed (the proxy is shutting down)",
                code: ModelMeshError.Code.streamInterrupted.rawValue)
            try await writer.write(error.serverSentEvent(requestID: requestID))
        } else {
            try await writer.write(ServerSentEvents.done)
        }
        try await writer.finish(nil)
    }
}

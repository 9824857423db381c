import Foundation
import ModelMesh

/// Feeds the Messages API event stream through an ``AnthropicStreamTranslator``:
/// `message_stop` is the end marker, an `error` event fails the stream with its class, and
/// an event whose data cannot be read is skipped and counted. A body that ends properly
/// after `message_delta` reported a stop reason is complete too (see
/// ``AnthropicStreamTranslator/endOfBody()``); one that ends earlier, or a broken connection,
/// is truncated.
struct AnthropicEventDecoder: SSEEventDecoder {
    var translator: AnthropicStreamTranslator

    mutating func decode(_ event: SSEEvent) throws -> SSEDecodeStep<ChatCompletionChunk> {
        // An unnamed event (or the default type `message`) is named by its data's `type`.
        let name = event.event.flatMap { $0 == "message" ? nil : $0 } ?? ""
        let chunks: [ChatCompletionChunk]
        do {
            chunks = try translator.consume(event: name, data: event.data)
        } catch {
            if event.event == "error" || WireJSON.parse(Data(event.data.utf8))?["type"] == "error" { throw error }
            return .invalid
        }
        if translator.isComplete { return .end(chunks) }
        return chunks.isEmpty ? .skip : .emit(chunks)
    }

    mutating func bodyEnded() throws -> [ChatCompletionChunk] {
        guard let chunks = translator.endOfBody() else {
            throw ProviderError(
                .streamInterrupted, message: "The Anthropic stream ended before message_delta reported a stop_reason")
        }
        return chunks
    }
}

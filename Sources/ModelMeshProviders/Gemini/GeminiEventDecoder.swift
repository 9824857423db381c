import Foundation
import ModelMesh

/// Feeds `streamGenerateContent?alt=sse` payloads through a ``GeminiStreamTranslator``.
///
/// Gemini has no end marker: the body ending is the end, and it is a complete answer only
/// when a `finishReason` was seen. A payload that is not JSON is skipped and counted; an
/// embedded error or a safety block fails the stream.
struct GeminiEventDecoder: SSEEventDecoder {
    var translator: GeminiStreamTranslator

    mutating func decode(_ event: SSEEvent) throws -> SSEDecodeStep<ChatCompletionChunk> {
        let chunks: [ChatCompletionChunk]
        do {
            chunks = try translator.consume(data: event.data)
        } catch {
            if WireJSON.parse(Data(event.data.utf8)) == nil { return .invalid }
            throw error
        }
        return chunks.isEmpty ? .skip : .emit(chunks)
    }

    mutating func bodyEnded() throws -> [ChatCompletionChunk] {
        guard translator.sawFinishReason else {
            throw ProviderError(
                .streamInterrupted, message: "The Gemini stream ended before a candidate reported its finishReason")
        }
        return []
    }
}

import Foundation
import ModelMesh

/// Decodes the OpenAI chat-completion event stream: one `chat.completion.chunk` per `data:`
/// event, `data: [DONE]` as the end marker, `data: {"error": ...}` as an in-band failure.
///
/// Many servers of the family (and proxies in front of them) end the body without `[DONE]`.
/// Such a stream is complete when every choice it streamed reported its `finish_reason`
/// before the body ended properly: the answer is whole, and a usage chunk, if any, follows
/// the finish chunk. A body that ends before that is truncated.
struct OpenAIChunkDecoder: SSEEventDecoder {
    /// The model name put into chunks that lack one.
    let fallbackModel: String
    /// Keep each well-formed chunk's bytes on it (``ChatCompletionChunk/wireBytes``) for a
    /// caller that relays them.
    var keepBytes = false
    /// One decoder for the whole stream rather than one per chunk.
    private let decoder = JSONDecoder()
    /// Indices of the choices seen so far, and of those that reported a finish reason.
    private var openChoices: Set<Int> = []
    private var finishedChoices: Set<Int> = []

    init(fallbackModel: String) {
        self.fallbackModel = fallbackModel
    }

    mutating func decode(_ event: SSEEvent) throws -> SSEDecodeStep<ChatCompletionChunk> {
        let data = event.data.trimmingASCIIWhitespace()
        if data == "[DONE]" { return .end([]) }
        if data.isEmpty { return .skip }
        let bytes = Array(data.utf8)
        if event.event == nil || event.event == "message",
            // A plain chunk (the usual one) is built from a scan; any other is decoded.
            var chunk = bytes.withUnsafeBytes(OpenAIAnswerScan.plainChunk)
                ?? (try? decoder.decode(ChatCompletionChunk.self, from: Data(bytes)))
        {
            record(chunk)
            // One line only: a multi-line `data:` would not survive being written as one.
            if keepBytes, !bytes.contains(UInt8(ascii: "\n")), !bytes.contains(UInt8(ascii: "\r")) {
                chunk.wireBytes = ChunkWireBytes(bytes)
            }
            return .emit([chunk])
        }
        guard let value = try? decoder.decode(JSONValue.self, from: Data(bytes)), let object = value.objectValue else {
            return .invalid
        }
        if let error = object["error"], error != .null {
            throw OpenAIErrorClassifier.inBandError(error)
        }
        if event.event == "error" {
            throw OpenAIErrorClassifier.inBandError(value)
        }
        // Lenient path: servers that omit `id`, `created` or `model` still stream usable chunks.
        guard object["choices"] != nil || object["usage"] != nil else { return .invalid }
        var filled = object
        if filled["id"] == nil { filled["id"] = "" }
        if filled["object"] == nil { filled["object"] = "chat.completion.chunk" }
        if filled["created"] == nil { filled["created"] = .int(Int(Date().timeIntervalSince1970)) }
        if filled["model"] == nil || filled["model"] == .null { filled["model"] = .string(fallbackModel) }
        if filled["choices"] == nil || filled["choices"] == .null { filled["choices"] = [] }
        guard let reencoded = try? JSONEncoder().encode(JSONValue.object(filled)),
            let chunk = try? decoder.decode(ChatCompletionChunk.self, from: reencoded)
        else { return .invalid }
        record(chunk)
        return .emit([chunk])
    }

    mutating func bodyEnded() throws -> [ChatCompletionChunk] {
        guard !finishedChoices.isEmpty, openChoices.isSubset(of: finishedChoices) else {
            throw ProviderError(
                .streamInterrupted,
                message: "The upstream stream ended without [DONE] before every choice reported its finish_reason")
        }
        return []
    }

    private mutating func record(_ chunk: ChatCompletionChunk) {
        for choice in chunk.choices {
            openChoices.insert(choice.index)
            if let reason = choice.finishReason, !reason.isEmpty { finishedChoices.insert(choice.index) }
        }
    }
}

import Foundation
import ModelMesh
import NIOCore
import NIOHTTP1

@testable import ModelMeshProviders

/// `openai-stream`, `anthropic-stream`, `gemini-stream`: a vendor's streamed response body
/// through the transport's `EventStreamMachine` — the production path: SSE parsing, the
/// vendor's `SSEEventDecoder` (and stream translator) event by event, the end marker, and
/// the decision at the end of the body.
///
/// The input is a ``SplitInput`` whose body is the response body. It is delivered twice to
/// fresh machines after a `200` head: once as one body part, once cut at the input's cut
/// points; then the body ends. Invariants:
///
/// 1. No crash (the decoders must turn any event into elements, a skip, an invalid event or
///    a thrown `ProviderError`).
/// 2. How the body is cut into parts does not change what the client gets: the same
///    elements (chunks, with `created` ignored: it is the clock), the same invalid events,
///    and the same ending (finished, or failed with the same error).
/// 3. Every element encodes as JSON (the proxy writes each one to the client).
enum StreamTargets {
    /// A fixed `created` for the translators, so chunks compare across runs.
    static let created = Date(timeIntervalSince1970: 1_750_000_000)

    static func runOpenAI(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
        run(input) { OpenAIChunkDecoder(fallbackModel: "gpt-4o-mini") }
    }

    static func runAnthropic(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
        run(input) {
            AnthropicEventDecoder(translator: AnthropicStreamTranslator(model: "claude-sonnet-4-5", created: created))
        }
    }

    static func runGemini(_ input: UnsafeBufferPointer<UInt8>) -> CInt {
        run(input) { GeminiEventDecoder(translator: GeminiStreamTranslator(model: "gemini-2.5-flash", created: created)) }
    }

    /// What the client of one streamed response saw.
    struct Transcript: Equatable {
        var elements: [ChatCompletionChunk] = []
        var invalidEvents: [SSEEvent] = []
        /// `nil` while open; "finished", or "failed: <error>".
        var end: String?
        var cancelled = false
    }

    static func run<Decoder: SSEEventDecoder>(
        _ input: UnsafeBufferPointer<UInt8>, decoder makeDecoder: () -> Decoder
    ) -> CInt where Decoder.Element == ChatCompletionChunk {
        guard let split = SplitInput(input) else { return -1 }
        let whole = deliver([split.body[...]], to: makeDecoder())
        let cut = deliver(split.pieces, to: makeDecoder())
        if whole != cut {
            fuzzFailure(
                "the stream's outcome depends on how the body is cut (cuts \(split.cuts)):\n whole: \(whole)\n cut:   \(cut)\n body \(hex(split.body))"
            )
        }
        let encoder = JSONEncoder()
        for element in whole.elements {
            do { _ = try encoder.encode(element) } catch {
                fuzzFailure("a stream element does not encode as JSON (\(error)): \(element)")
            }
        }
        return 0
    }

    static func deliver<Decoder: SSEEventDecoder>(
        _ pieces: [ArraySlice<UInt8>], to decoder: Decoder
    ) -> Transcript where Decoder.Element == ChatCompletionChunk {
        var machine = EventStreamMachine(
            decoder: decoder,
            configuration: .init(
                headBudget: .seconds(30), idleTimeout: .seconds(300), deadlines: nil, errorLimit: 4096,
                carriesOutput: { $0.carriesOutput }))
        let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var transcript = Transcript()
        func take(_ action: EventStreamMachine<Decoder>.Action) {
            transcript.elements += action.elements.map { chunk in
                var chunk = chunk
                chunk.created = 0
                return chunk
            }
            transcript.invalidEvents += action.invalidEvents
            transcript.cancelled = transcript.cancelled || action.cancelRequest
            if let end = action.streamEnd {
                if transcript.end != nil { fuzzFailure("the stream ended twice: \(transcript.end!), then \(end)") }
                switch end {
                case .finished: transcript.end = "finished"
                case .failed(let error): transcript.end = "failed: \(String(reflecting: error))"
                }
            }
        }
        _ = machine.requestStarted(at: t0)
        let head = HTTPResponseHead(
            version: .http1_1, status: .ok, headers: ["content-type": "text/event-stream"])
        take(machine.headReceived(head, at: t0))
        for piece in pieces {
            // The machine ignores parts after the stream ended; feeding them checks that.
            let before = transcript
            take(machine.bodyPartReceived(ByteBuffer(bytes: piece), at: t0 + .milliseconds(1)))
            if before.end != nil, transcript != before {
                fuzzFailure("a body part after the end of the stream changed it: \(transcript)")
            }
        }
        take(machine.bodyEnded())
        if transcript.end == nil { fuzzFailure("the body ended but the stream did not: \(transcript)") }
        return transcript
    }
}

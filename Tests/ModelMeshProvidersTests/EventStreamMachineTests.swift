import ModelMesh
import NIOCore
import NIOHTTP1
import Testing

@testable import ModelMeshProviders

/// The streamed response's state machine, driven directly: no sockets, no clock.
@Suite("EventStreamMachine")
struct EventStreamMachineTests {
    /// `data: <word>` emits the word; `[END]` is the end marker, `ping` is skipped, `?` is
    /// undecodable and `boom` an in-band failure. Words starting with `-` carry no output.
    struct WordDecoder: SSEEventDecoder {
        mutating func decode(_ event: SSEEvent) throws -> SSEDecodeStep<String> {
            switch event.data {
            case "[END]": return .end(["bye"])
            case "ping": return .skip
            case "?": return .invalid
            case "boom": throw ProviderError(.serverError, message: "boom")
            default: return .emit([event.data])
            }
        }
    }

    static let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

    /// `ms` milliseconds after the start of the test's timeline.
    func at(_ ms: Int64) -> NIODeadline { Self.t0 + .milliseconds(ms) }

    func head(_ status: HTTPResponseStatus) -> HTTPResponseHead {
        HTTPResponseHead(version: .http1_1, status: status, headers: ["content-type": "text/event-stream"])
    }

    func machine<Decoder: SSEEventDecoder>(
        _ decoder: Decoder, headBudget: Duration = .seconds(2), idleTimeout: Duration = .seconds(5),
        deadlines: StreamDeadlines? = nil, errorLimit: Int = 64,
        carriesOutput: @escaping @Sendable (Decoder.Element) -> Bool = { _ in true },
        maxEventSize: Int = 1024, maxDuration: Duration? = nil
    ) -> EventStreamMachine<Decoder> {
        EventStreamMachine(
            decoder: decoder,
            configuration: .init(
                headBudget: headBudget, idleTimeout: idleTimeout, deadlines: deadlines, errorLimit: errorLimit,
                carriesOutput: carriesOutput, maxEventSize: maxEventSize, maxDuration: maxDuration))
    }

    func words(
        idleTimeout: Duration = .seconds(5), deadlines: StreamDeadlines? = nil
    ) -> EventStreamMachine<WordDecoder> {
        machine(
            WordDecoder(), idleTimeout: idleTimeout, deadlines: deadlines, carriesOutput: { !$0.hasPrefix("-") })
    }

    /// A machine whose 2xx head arrived at `at(0)`.
    func streaming<Decoder: SSEEventDecoder>(_ m: EventStreamMachine<Decoder>) -> EventStreamMachine<Decoder> {
        var m = m
        _ = m.requestStarted(at: at(0))
        _ = m.headReceived(head(.ok), at: at(0))
        return m
    }

    // MARK: Streaming

    @Test("A 2xx head opens the stream; events split anywhere become the elements in order")
    func streamsElements() {
        var m = words()
        #expect(m.requestStarted(at: at(0)).timer == .arm(.head, at: at(2000)))
        let opened = m.headReceived(head(.ok), at: at(10))
        #expect(opened.openedStream?.status == .ok)
        #expect(opened.timer == .arm(.silence, at: at(5010)))
        let pieces = ["da", "ta: one\r", "\n\r", "\ndata:", " two\n", "\nda", "ta: thr", "ee\n", "\n"]
        var elements: [String] = []
        for (i, piece) in pieces.enumerated() {
            let action = m.bodyPartReceived(ByteBuffer(string: piece), at: at(20 + Int64(i)))
            #expect(action.streamEnd == nil)
            #expect(!action.cancelRequest)
            elements += action.elements
        }
        #expect(elements == ["one", "two", "three"])
        #expect(m.state.name == "streaming")
    }

    @Test("The end marker finishes the stream normally, and the rest of the body is drained unread")
    func endMarkerDrains() {
        var m = streaming(words())
        let end = m.bodyPartReceived(
            ByteBuffer(string: "data: a\n\ndata: [END]\n\ndata: after\n\ndata: ?\n\n"), at: at(5))
        #expect(end.elements == ["a", "bye"])
        #expect(end.finishedNormally)
        #expect(end.timer == .cancel)
        #expect(end.invalidEvents.isEmpty)
        #expect(!end.cancelRequest)
        #expect(m.state.name == "draining")
        #expect(m.bodyPartReceived(ByteBuffer(string: "data: more\n\n"), at: at(6)).isEmpty)
        #expect(m.timerFired(.silence, at: at(60_000)).isEmpty)
        #expect(m.bodyEnded().isEmpty)
        #expect(m.state.name == "finished")
    }

    @Test("Skipped events yield nothing; undecodable ones are reported and the stream goes on")
    func invalidEventsAreReported() {
        var m = streaming(words())
        let action = m.bodyPartReceived(ByteBuffer(string: "data: ping\n\ndata: ?\n\ndata: b\n\n"), at: at(1))
        #expect(action.invalidEvents == [SSEEvent(data: "?")])
        #expect(action.elements == ["b"])
        #expect(action.streamEnd == nil)
        #expect(m.state.name == "streaming")
    }

    @Test("An in-band failure yields what came before it, fails the stream and cancels the request")
    func decoderFailure() {
        var m = streaming(words())
        let action = m.bodyPartReceived(ByteBuffer(string: "data: a\n\ndata: boom\n\ndata: c\n\n"), at: at(1))
        #expect(action.elements == ["a"])
        #expect(action.failure?.errorClass == .serverError)
        #expect(action.failure?.message == "boom")
        #expect(action.cancelRequest)
        #expect(m.state.name == "finished")
        #expect(m.failed(CancellationError()).isEmpty)
    }

    @Test("A connection failure after the head fails the stream as interrupted")
    func failureAfterHead() {
        struct Reset: Error {}
        var m = streaming(words())
        _ = m.bodyPartReceived(ByteBuffer(string: "data: a\n\n"), at: at(1))
        let action = m.failed(Reset())
        #expect(action.failure?.errorClass == .streamInterrupted)
        #expect(action.timer == .cancel)
        #expect(action.opener == nil)
        #expect(m.state.name == "finished")
    }

    // MARK: Rejections

    @Test("A non-2xx head collects its body, capped at the limit, and is rejected with it")
    func rejectedWithCappedBody() throws {
        var m = machine(WordDecoder(), headBudget: .milliseconds(200), errorLimit: 10)
        _ = m.requestStarted(at: at(0))
        let headAction = m.headReceived(head(.tooManyRequests), at: at(50))
        #expect(headAction.opener == nil)
        // The error body gets at least a second.
        #expect(headAction.timer == .arm(.errorBody, at: at(1050)))
        for piece in ["0123456", "789abcdef", "more"] {
            #expect(m.bodyPartReceived(ByteBuffer(string: piece), at: at(60)).isEmpty)
        }
        let end = m.bodyEnded()
        let (status, body) = try #require(end.rejection)
        #expect(status == .tooManyRequests)
        #expect(body == "0123456789")
        #expect(end.streamEnd == nil)
        #expect(end.timer == .cancel)
        #expect(m.state.name == "finished")
    }

    @Test("An error body that does not end in time, or breaks, is rejected with what arrived")
    func rejectedPartially() throws {
        var slow = machine(WordDecoder(), headBudget: .seconds(3))
        _ = slow.requestStarted(at: at(0))
        #expect(slow.headReceived(head(.internalServerError), at: at(0)).timer == .arm(.errorBody, at: at(3000)))
        _ = slow.bodyPartReceived(ByteBuffer(string: "partial"), at: at(10))
        let fired = slow.timerFired(.errorBody, at: at(3000))
        #expect(try #require(fired.rejection).body == "partial")
        #expect(fired.cancelRequest)
        #expect(slow.failed(CancellationError()).isEmpty)

        var broken = machine(WordDecoder())
        _ = broken.requestStarted(at: at(0))
        _ = broken.headReceived(head(.badGateway), at: at(0))
        _ = broken.bodyPartReceived(ByteBuffer(string: "half"), at: at(10))
        let failed = broken.failed(CancellationError())
        let rejection = try #require(failed.rejection)
        #expect(rejection.status == .badGateway)
        #expect(rejection.body == "half")
    }

    // MARK: Deadlines

    @Test("A head slower than the budget cancels the request; the failure that follows is the budget's")
    func headBudget() throws {
        var m = words()
        _ = m.requestStarted(at: at(0))
        let fired = m.timerFired(.head, at: at(2000))
        #expect(fired.cancelRequest)
        #expect(fired.opener == nil)
        let failed = m.failed(CancellationError())
        guard case .fail(let error)? = failed.opener else {
            Issue.record("the opener was not failed")
            return
        }
        #expect(error is BudgetExceeded)
        #expect(HTTPTransport.classifyTransportError(error, afterHead: false, budget: nil).errorClass == .timeout)
    }

    @Test("A body silent past the idle timeout fails with a timeout; data in between pushes it back")
    func idleTimeout() {
        var m = streaming(words(idleTimeout: .milliseconds(500)))
        #expect(m.bodyPartReceived(ByteBuffer(string: "data: a\n\n"), at: at(300)).elements == ["a"])
        #expect(m.timerFired(.silence, at: at(500)).timer == .arm(.silence, at: at(800)))
        // A comment is data, not an element.
        #expect(m.bodyPartReceived(ByteBuffer(string: ": keep-alive\n"), at: at(700)).isEmpty)
        #expect(m.timerFired(.silence, at: at(800)).timer == .arm(.silence, at: at(1200)))
        let expired = m.timerFired(.silence, at: at(1200))
        #expect(expired.failure?.errorClass == .timeout)
        #expect(expired.failure?.message.contains("no data for 500ms") == true)
        #expect(expired.cancelRequest)
        #expect(expired.timer == .cancel)
        #expect(m.state.name == "finished")
    }

    @Test("Before output each element must come within first_token_timeout, even if data keeps coming")
    func firstTokenDeadline() {
        let deadlines = StreamDeadlines(firstToken: .seconds(1), idle: .milliseconds(300))
        var m = words(idleTimeout: .seconds(10), deadlines: deadlines)
        _ = m.requestStarted(at: at(0))
        // Never later than now + the shortest limit.
        #expect(m.headReceived(head(.ok), at: at(0)).timer == .arm(.silence, at: at(300)))
        #expect(m.bodyPartReceived(ByteBuffer(string: "data: -role\n\n"), at: at(500)).elements == ["-role"])
        #expect(m.bodyPartReceived(ByteBuffer(string: ": keep-alive\n"), at: at(1200)).isEmpty)
        #expect(m.timerFired(.silence, at: at(1400)).timer == .arm(.silence, at: at(1500)))
        let expired = m.timerFired(.silence, at: at(1500))
        #expect(expired.failure?.errorClass == .timeout)
        #expect(expired.failure?.message.contains("first_token_timeout") == true)
        #expect(expired.cancelRequest)
    }

    @Test("After the first output the idle deadline applies")
    func idleDeadlineAfterOutput() {
        let deadlines = StreamDeadlines(firstToken: .seconds(1), idle: .milliseconds(300))
        var m = streaming(words(idleTimeout: .seconds(10), deadlines: deadlines))
        #expect(m.bodyPartReceived(ByteBuffer(string: "data: Hello\n\n"), at: at(200)).elements == ["Hello"])
        #expect(m.timerFired(.silence, at: at(300)).timer == .arm(.silence, at: at(500)))
        let expired = m.timerFired(.silence, at: at(500))
        #expect(expired.failure?.message.contains("idle_timeout") == true)
        #expect(expired.failure?.message.contains("first_token_timeout") == false)
    }

    @Test("A lively stream is cut at max_stream_duration, counted from its head")
    func maximumDuration() {
        var m = streaming(machine(WordDecoder(), idleTimeout: .milliseconds(500), maxDuration: .seconds(1)))
        for ms in stride(from: Int64(400), through: 800, by: 400) {
            #expect(m.bodyPartReceived(ByteBuffer(string: "data: w\n\n"), at: at(ms)).elements == ["w"])
        }
        // Data keeps coming, but the idle deadline (1,300) is past the duration limit (1,000).
        #expect(m.timerFired(.silence, at: at(900)).timer == .arm(.silence, at: at(1000)))
        let expired = m.timerFired(.silence, at: at(1000))
        #expect(expired.failure?.errorClass == .timeout)
        #expect(expired.failure?.message.contains("max_stream_duration") == true)
        #expect(expired.cancelRequest)
    }

    @Test("An event larger than max_sse_event fails the stream and closes the connection")
    func oversizedEvent() {
        var m = streaming(machine(WordDecoder(), maxEventSize: 32))
        #expect(m.bodyPartReceived(ByteBuffer(string: "data: small\n\n"), at: at(10)).elements == ["small"])
        let big = m.bodyPartReceived(ByteBuffer(string: "data: " + String(repeating: "x", count: 40)), at: at(20))
        #expect(big.elements.isEmpty)
        #expect(big.cancelRequest)
        guard case .failed(let error) = big.streamEnd else {
            Issue.record("the stream did not fail: \(String(describing: big.streamEnd))")
            return
        }
        #expect(error is SSEParserError)
    }

    @Test("A timer that is not the state's is ignored")
    func staleTimers() {
        var m = streaming(words())
        #expect(m.timerFired(.head, at: at(60_000)).isEmpty)
        #expect(m.timerFired(.errorBody, at: at(60_000)).isEmpty)
        #expect(m.state.name == "streaming")
    }

    // MARK: Cancellation

    @Test("Cancelling a stream cancels the request, fails the stream as cancelled and yields nothing more")
    func cancelStreaming() {
        var m = streaming(words())
        #expect(m.bodyPartReceived(ByteBuffer(string: "data: a\n\n"), at: at(1)).elements == ["a"])
        let cancelled = m.cancelled()
        #expect(cancelled.cancelRequest)
        #expect(cancelled.timer == .cancel)
        #expect(cancelled.failure?.errorClass == .cancelled)
        #expect(m.bodyPartReceived(ByteBuffer(string: "data: b\n\n"), at: at(2)).isEmpty)
        #expect(m.bodyEnded().isEmpty)
        #expect(m.failed(CancellationError()).isEmpty)
    }

    @Test("A cancellation before the request was handed over is carried out when it is, without a head timer")
    func cancelBeforeStart() {
        var m = words()
        #expect(m.cancelled().cancelRequest)
        let started = m.requestStarted(at: at(0))
        #expect(started.cancelRequest)
        #expect(started.timer == nil)
        guard case .fail(let error)? = m.failed(CancellationError()).opener else {
            Issue.record("the opener was not failed")
            return
        }
        #expect(error is CancellationError)
    }

    @Test("Cancelling while draining closes the connection")
    func cancelDraining() {
        var m = streaming(words())
        _ = m.bodyPartReceived(ByteBuffer(string: "data: [END]\n\n"), at: at(1))
        let cancelled = m.cancelled()
        #expect(cancelled.cancelRequest)
        #expect(cancelled.streamEnd == nil)
    }

    // MARK: The end of the body

    @Test("A body that ends without the end marker fails by default; a last unterminated event counts")
    func bodyEndWithoutMarker() {
        var m = streaming(words())
        _ = m.bodyPartReceived(ByteBuffer(string: "data: a\n\ndata: b"), at: at(1))
        let end = m.bodyEnded()
        #expect(end.elements == ["b"])
        #expect(end.failure?.errorClass == .streamInterrupted)

        var marked = streaming(words())
        _ = marked.bodyPartReceived(ByteBuffer(string: "data: a\n\ndata: [END]"), at: at(1))
        let markedEnd = marked.bodyEnded()
        #expect(markedEnd.elements == ["bye"])
        #expect(markedEnd.finishedNormally)
    }

    @Test("OpenAI: without [DONE] the stream is complete only when every choice reported its finish_reason")
    func openAIBodyEnd() {
        func chunk(_ content: String, finish: String?) -> String {
            let reason = finish.map { "\"\($0)\"" } ?? "null"
            return
                #"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"\#(content)"},"finish_reason":\#(reason)}]}"#
                + "\n\n"
        }
        var complete = streaming(machine(OpenAIChunkDecoder(fallbackModel: "m"), carriesOutput: { $0.carriesOutput }))
        let parts = complete.bodyPartReceived(
            ByteBuffer(string: chunk("Hi", finish: nil) + chunk("", finish: "stop")), at: at(1))
        #expect(parts.elements.count == 2)
        let end = complete.bodyEnded()
        #expect(end.finishedNormally)

        var truncated = streaming(machine(OpenAIChunkDecoder(fallbackModel: "m")))
        _ = truncated.bodyPartReceived(ByteBuffer(string: chunk("Hi", finish: nil)), at: at(1))
        let cut = truncated.bodyEnded()
        #expect(cut.failure?.errorClass == .streamInterrupted)
        #expect(cut.failure?.message.contains("finish_reason") == true)

        var done = streaming(machine(OpenAIChunkDecoder(fallbackModel: "m")))
        _ = done.bodyPartReceived(ByteBuffer(string: chunk("Hi", finish: nil)), at: at(1))
        #expect(done.bodyPartReceived(ByteBuffer(string: "data: [DONE]\n\n"), at: at(2)).finishedNormally)
    }

    @Test("Anthropic: a body ending after message_delta's stop_reason is complete, with the usage chunk last")
    func anthropicBodyEnd() {
        let transcript = AnthropicStreamTranslatorTests.textTranscript.dropLast()
        let body = transcript.map { "event: \($0.0)\ndata: \($0.1)\n\n" }.joined()
        var m = streaming(
            machine(
                AnthropicEventDecoder(translator: AnthropicStreamTranslator(model: "claude", created: fixedDate))))
        let streamed = m.bodyPartReceived(ByteBuffer(string: body), at: at(1))
        #expect(streamed.streamEnd == nil)
        let end = m.bodyEnded()
        #expect(end.finishedNormally)
        #expect(end.elements.count == 1)
        #expect(end.elements.first?.usage?.completionTokens == 15)

        let early = transcript.prefix(4).map { "event: \($0.0)\ndata: \($0.1)\n\n" }.joined()
        var cut = streaming(
            machine(
                AnthropicEventDecoder(translator: AnthropicStreamTranslator(model: "claude", created: fixedDate))))
        _ = cut.bodyPartReceived(ByteBuffer(string: early), at: at(1))
        #expect(cut.bodyEnded().failure?.errorClass == .streamInterrupted)
    }

    @Test("Gemini: the body's end is the end, complete only after a finishReason")
    func geminiBodyEnd() {
        let transcript = GeminiStreamTranslatorTests.textTranscript
        func decoder() -> GeminiEventDecoder {
            GeminiEventDecoder(translator: GeminiStreamTranslator(model: "gemini-2.0-flash", created: fixedDate))
        }
        var complete = streaming(machine(decoder()))
        _ = complete.bodyPartReceived(ByteBuffer(string: transcript.map { "data: \($0)\r\n\r\n" }.joined()), at: at(1))
        #expect(complete.bodyEnded().finishedNormally)

        var cut = streaming(machine(decoder()))
        _ = cut.bodyPartReceived(ByteBuffer(string: "data: \(transcript[0])\n\n"), at: at(1))
        let end = cut.bodyEnded()
        #expect(end.failure?.errorClass == .streamInterrupted)
        #expect(end.failure?.message.contains("finishReason") == true)
    }

    // MARK: Settled

    @Test("Once finished, no input produces an action")
    func nothingAfterFinished() {
        var m = streaming(words())
        _ = m.bodyPartReceived(ByteBuffer(string: "data: a\n\ndata: [END]\n\n"), at: at(1))
        _ = m.bodyEnded()
        #expect(m.state.name == "finished")
        #expect(m.requestStarted(at: at(2)).isEmpty)
        #expect(m.headReceived(head(.ok), at: at(2)).isEmpty)
        #expect(m.bodyPartReceived(ByteBuffer(string: "data: b\n\n"), at: at(2)).isEmpty)
        #expect(m.bodyEnded().isEmpty)
        #expect(m.failed(CancellationError()).isEmpty)
        for timer in [EventStreamMachine<WordDecoder>.Timer.head, .errorBody, .silence] {
            #expect(m.timerFired(timer, at: at(60_000)).isEmpty)
        }
        #expect(m.cancelled().isEmpty)
    }
}

extension EventStreamMachine.Action {
    var openedStream: HTTPResponseHead? {
        if case .open(.stream(let head))? = opener { return head }
        return nil
    }

    var rejection: (status: HTTPResponseStatus, body: String)? {
        if case .open(.rejected(let head, let body))? = opener { return (head.status, String(buffer: body)) }
        return nil
    }

    var finishedNormally: Bool {
        if case .finished? = streamEnd { return true }
        return false
    }

    /// The stream's failure as the transport reports it.
    var failure: ProviderError? {
        guard case .failed(let error)? = streamEnd else { return nil }
        return HTTPTransport.classifyTransportError(error, afterHead: true, budget: nil)
    }
}

extension EventStreamMachine.State {
    var name: String {
        switch self {
        case .awaitingHead: "awaitingHead"
        case .collectingRejection: "collectingRejection"
        case .streaming: "streaming"
        case .draining: "draining"
        case .finished: "finished"
        }
    }
}

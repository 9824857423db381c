import Foundation
import ModelMesh
import Testing

@testable import ModelMeshProviders

@Suite("Gemini stream translation")
struct GeminiStreamTranslatorTests {
    func run(_ payloads: [String], translator: inout GeminiStreamTranslator) throws -> [ChatCompletionChunk] {
        var chunks: [ChatCompletionChunk] = []
        for payload in payloads { chunks += try translator.consume(data: payload) }
        return chunks
    }

    func chunk(_ delta: ChatCompletionChunk.Delta, finish: String? = nil, id: String = "resp-1") -> ChatCompletionChunk
    {
        ChatCompletionChunk(
            id: id, created: 1_750_000_000, model: "gemini-2.0-flash",
            choices: [.init(index: 0, delta: delta, finishReason: finish)])
    }

    static let textTranscript = [
        #"{"candidates": [{"content": {"parts": [{"text": "The quick"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 9,"totalTokenCount": 9},"modelVersion": "gemini-2.0-flash","responseId": "resp-1"}"#,
        #"{"candidates": [{"content": {"parts": [{"text": " brown fox"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 9,"totalTokenCount": 9},"modelVersion": "gemini-2.0-flash","responseId": "resp-1"}"#,
        #"{"candidates": [{"content": {"parts": [{"text": " jumps."}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 9,"candidatesTokenCount": 6,"totalTokenCount": 15,"cachedContentTokenCount": 4},"modelVersion": "gemini-2.0-flash","responseId": "resp-1"}"#,
    ]

    @Test("text payloads become role, content, finish and usage chunks")
    func textStream() throws {
        var translator = GeminiStreamTranslator(model: "gemini-2.0-flash", created: fixedDate)
        let chunks = try run(Self.textTranscript, translator: &translator)
        let expected = [
            chunk(.init(role: "assistant", content: "")),
            chunk(.init(content: "The quick")),
            chunk(.init(content: " brown fox")),
            chunk(.init(content: " jumps.")),
            chunk(.init(), finish: "stop"),
            ChatCompletionChunk(
                id: "resp-1", created: 1_750_000_000, model: "gemini-2.0-flash", choices: [],
                usage: Usage(promptTokens: 9, completionTokens: 6, totalTokens: 15, cachedTokens: 4)),
        ]
        #expect(chunks == expected)
        #expect(translator.sawFinishReason)
        #expect(translator.finishReason == "stop")
    }

    @Test("a stream cut before a finish reason is not complete")
    func cutStream() throws {
        var translator = GeminiStreamTranslator(model: "gemini-2.0-flash", created: fixedDate)
        let chunks = try run(Array(Self.textTranscript.prefix(2)), translator: &translator)
        #expect(chunks.count == 3)
        #expect(!translator.sawFinishReason)
        #expect(chunks.allSatisfy { $0.usage == nil })
    }

    @Test("function calls arrive whole, with indices and generated ids")
    func functionCalls() throws {
        let payloads = [
            #"{"candidates": [{"content": {"parts": [{"text": "Checking."}],"role": "model"},"index": 0}],"responseId": "resp-2"}"#,
            #"{"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_weather","args": {"city": "Paris"}}},{"functionCall": {"name": "get_time","args": {}}}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 40,"candidatesTokenCount": 12,"totalTokenCount": 52},"responseId": "resp-2"}"#,
        ]
        var translator = GeminiStreamTranslator(model: "gemini-2.0-flash", created: fixedDate)
        let chunks = try run(payloads, translator: &translator)
        let expected = [
            chunk(.init(role: "assistant", content: ""), id: "resp-2"),
            chunk(.init(content: "Checking."), id: "resp-2"),
            chunk(
                .init(toolCalls: [
                    ToolCall(
                        index: 0, id: "call_0", function: .init(name: "get_weather", arguments: "{\"city\":\"Paris\"}"))
                ]), id: "resp-2"),
            chunk(
                .init(toolCalls: [ToolCall(index: 1, id: "call_1", function: .init(name: "get_time", arguments: "{}"))]
                ),
                id: "resp-2"),
            chunk(.init(), finish: "tool_calls", id: "resp-2"),
            ChatCompletionChunk(
                id: "resp-2", created: 1_750_000_000, model: "gemini-2.0-flash", choices: [],
                usage: Usage(promptTokens: 40, completionTokens: 12, totalTokens: 52)),
        ]
        #expect(chunks == expected)
        #expect(translator.sawFinishReason)
    }

    @Test("usage arriving after the finish reason still yields one usage chunk")
    func lateUsage() throws {
        let payloads = [
            #"{"candidates": [{"content": {"parts": [{"text": "Hi"}],"role": "model"},"finishReason": "MAX_TOKENS","index": 0}]}"#,
            #"{"usageMetadata": {"promptTokenCount": 3,"candidatesTokenCount": 1,"totalTokenCount": 4}}"#,
            #"{"usageMetadata": {"promptTokenCount": 3,"candidatesTokenCount": 1,"totalTokenCount": 4}}"#,
        ]
        var translator = GeminiStreamTranslator(model: "gemini-2.0-flash", created: fixedDate)
        let chunks = try run(payloads, translator: &translator)
        #expect(chunks.count == 4)
        #expect(chunks[2].choices.first?.finishReason == "length")
        #expect(chunks[3].usage == Usage(promptTokens: 3, completionTokens: 1))
    }

    @Test("a blocked prompt in the stream is a content-policy error")
    func blockedPrompt() throws {
        var translator = GeminiStreamTranslator(model: "gemini-2.0-flash", created: fixedDate)
        let error = try #require(throws: ProviderError.self) {
            try translator.consume(
                data:
                    #"{"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},"usageMetadata": {"promptTokenCount": 7,"totalTokenCount": 7}}"#
            )
        }
        #expect(error.errorClass == .contentPolicy)
        #expect(!translator.sawFinishReason)
    }

    @Test("a safety stop before any output is a content-policy error; after output it is a content_filter finish")
    func safetyStop() throws {
        var empty = GeminiStreamTranslator(model: "gemini-2.0-flash", created: fixedDate)
        let error = try #require(throws: ProviderError.self) {
            try empty.consume(data: #"{"candidates": [{"finishReason": "SAFETY","index": 0}]}"#)
        }
        #expect(error.errorClass == .contentPolicy)

        var partial = GeminiStreamTranslator(model: "gemini-2.0-flash", created: fixedDate)
        let chunks = try run(
            [
                #"{"candidates": [{"content": {"parts": [{"text": "Once"}],"role": "model"},"index": 0}]}"#,
                #"{"candidates": [{"content": {"parts": [{"text": ""}],"role": "model"},"finishReason": "SAFETY","index": 0}]}"#,
            ], translator: &partial)
        #expect(chunks.last?.choices.first?.finishReason == "content_filter")
        #expect(partial.sawFinishReason)
    }

    @Test("an error object in the stream throws the classified error; garbage is a classified error")
    func errors() throws {
        var translator = GeminiStreamTranslator(model: "gemini-2.0-flash", created: fixedDate)
        _ = try translator.consume(data: Self.textTranscript[0])
        let overloaded = try #require(throws: ProviderError.self) {
            try translator.consume(
                data:
                    #"{"error": {"code": 503,"message": "The model is overloaded. Please try again later.","status": "UNAVAILABLE"}}"#
            )
        }
        #expect(overloaded.errorClass == .serverError)
        #expect(overloaded.status == 503)
        let garbage = try #require(throws: ProviderError.self) { try translator.consume(data: "{\"candidates\": [") }
        #expect(garbage.errorClass == .unknown)
        #expect(try translator.consume(data: "") == [])
    }
}

import Foundation
import ModelMesh

// Builders for the Google Gemini API wire format (`generativelanguage.googleapis.com`, v1beta).

extension FakeResponse {
    /// A `GenerateContentResponse` with one candidate: its text and `functionCall` parts,
    /// `finishReason`, and `usageMetadata`.
    public static func geminiResponse(
        text: String? = "Hello!", functionCalls: [FakeToolUse] = [], finishReason: String = "STOP",
        promptTokens: Int = 10, candidatesTokens: Int = 5, cachedTokens: Int? = nil,
        modelVersion: String = "gemini-2.0-flash", headers: [(name: String, value: String)] = []
    ) -> FakeResponse {
        .json(
            encoding: FakeGemini.response(
                text: text, functionCalls: functionCalls, finishReason: finishReason,
                usage: FakeGemini.usage(prompt: promptTokens, candidates: candidatesTokens, cached: cachedTokens),
                modelVersion: modelVersion),
            headers: headers)
    }

    /// A `streamGenerateContent?alt=sse` answer: one event per piece, the last one carrying
    /// `finishReason` and `usageMetadata` (no finish reason at all when `finishReason` is nil,
    /// as in a stream cut short that still closes cleanly). Gemini has no end marker: the
    /// body simply ends by default.
    public static func geminiStream(
        pieces: [String], functionCalls: [FakeToolUse] = [], finishReason: String? = "STOP", promptTokens: Int = 10,
        candidatesTokens: Int = 5, delay: Duration = .zero, ending: FakeStreamEnding = .finish,
        headers: [(name: String, value: String)] = []
    ) -> FakeResponse {
        .sse(
            FakeStreamEvent.geminiEvents(
                pieces: pieces, functionCalls: functionCalls, finishReason: finishReason, promptTokens: promptTokens,
                candidatesTokens: candidatesTokens, delay: delay),
            ending: ending, headers: headers)
    }

    /// A Google error answer: `{"error":{"code":...,"message":...,"status":...,"details":[...]}}`.
    ///
    /// As Gemini sends them: 400 `INVALID_ARGUMENT` (also for an invalid API key, with an
    /// `ErrorInfo` detail of reason `API_KEY_INVALID`), 403 `PERMISSION_DENIED`, 404
    /// `NOT_FOUND`, 429 `RESOURCE_EXHAUSTED`, 500 `INTERNAL`, 503 `UNAVAILABLE`.
    public static func geminiError(
        status: Int, message: String, statusText: String, details: [JSONValue] = [],
        headers: [(name: String, value: String)] = []
    ) -> FakeResponse {
        .json(
            encoding: FakeGemini.errorBody(code: status, message: message, status: statusText, details: details),
            status: status, headers: headers)
    }

    /// A 400 for an invalid API key, as Gemini answers it.
    public static let geminiInvalidKey = geminiError(
        status: 400, message: "API key not valid. Please pass a valid API key.", statusText: "INVALID_ARGUMENT",
        details: [
            [
                "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                "domain": "googleapis.com", "metadata": ["service": "generativelanguage.googleapis.com"],
            ]
        ])

    /// A 429 `RESOURCE_EXHAUSTED` of a per-minute quota with a `RetryInfo` delay (`"1s"`).
    public static func geminiRateLimited(retryDelay: String = "1s", headers: [(name: String, value: String)] = [])
        -> FakeResponse
    {
        geminiError(
            status: 429,
            message:
                "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
            statusText: "RESOURCE_EXHAUSTED",
            details: [
                [
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        [
                            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                            "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                        ]
                    ],
                ],
                ["@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": .string(retryDelay)],
            ], headers: headers)
    }

    /// A 200 answer whose prompt was blocked (`promptFeedback.blockReason`, no candidates).
    public static func geminiBlockedPrompt(reason: String = "SAFETY") -> FakeResponse {
        .json(
            encoding: [
                "promptFeedback": [
                    "blockReason": .string(reason),
                    "safetyRatings": [["category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"]],
                ],
                "usageMetadata": FakeGemini.usage(prompt: 8, candidates: 0, cached: nil),
                "modelVersion": "gemini-2.0-flash",
            ] as JSONValue)
    }

    /// An `embedContent` answer.
    public static func geminiEmbedding(_ values: [Double]) -> FakeResponse {
        .json(encoding: ["embedding": ["values": .array(values.map(JSONValue.double))]] as JSONValue)
    }

    /// A `batchEmbedContents` answer.
    public static func geminiBatchEmbeddings(_ vectors: [[Double]]) -> FakeResponse {
        .json(
            encoding: [
                "embeddings": .array(vectors.map { ["values": .array($0.map(JSONValue.double))] as JSONValue })
            ] as JSONValue)
    }

    /// A `GET /v1beta/models` page.
    public static func geminiModelList(
        _ models: [(name: String, inputTokenLimit: Int)], nextPageToken: String? = nil
    ) -> FakeResponse {
        var body: [String: JSONValue] = [
            "models": .array(
                models.map { model in
                    [
                        "name": .string("models/\(model.name)"), "displayName": .string(model.name),
                        "inputTokenLimit": .int(model.inputTokenLimit), "outputTokenLimit": 8192,
                        "supportedGenerationMethods": ["generateContent", "countTokens"],
                    ]
                })
        ]
        if let nextPageToken { body["nextPageToken"] = .string(nextPageToken) }
        return .json(encoding: JSONValue.object(body))
    }
}

extension FakeStreamEvent {
    /// The events of a streamed answer as Gemini sends them (`data: <GenerateContentResponse>`
    /// and CRLF line ends): one per text piece, then one per function call; the last event
    /// carries `finishReason` (when given) and the usage.
    public static func geminiEvents(
        pieces: [String], functionCalls: [FakeToolUse] = [], finishReason: String? = "STOP", promptTokens: Int = 10,
        candidatesTokens: Int = 5, delay: Duration = .zero
    ) -> [FakeStreamEvent] {
        var parts: [(text: String?, call: FakeToolUse?)] = pieces.map { ($0, nil) }
        parts += functionCalls.map { (nil, $0) }
        if parts.isEmpty { parts = [("", nil)] }
        return parts.enumerated().map { index, part in
            let last = index == parts.count - 1
            return .geminiChunk(
                text: part.text, functionCalls: part.call.map { [$0] } ?? [], finishReason: last ? finishReason : nil,
                promptTokens: promptTokens, candidatesTokens: last ? candidatesTokens : index + 1, delay: delay)
        }
    }

    /// One `data:` event holding a `GenerateContentResponse` chunk.
    public static func geminiChunk(
        text: String? = nil, functionCalls: [FakeToolUse] = [], finishReason: String? = nil, promptTokens: Int = 10,
        candidatesTokens: Int = 1, delay: Duration = .zero
    ) -> FakeStreamEvent {
        let response = FakeGemini.response(
            text: text, functionCalls: functionCalls, finishReason: finishReason,
            usage: FakeGemini.usage(prompt: promptTokens, candidates: candidatesTokens, cached: nil),
            modelVersion: "gemini-2.0-flash")
        return .geminiData(response, delay: delay)
    }

    /// `data: <json>` with Gemini's CRLF line ends.
    public static func geminiData(_ value: JSONValue, delay: Duration = .zero) -> FakeStreamEvent {
        .raw("data: " + String(decoding: FakeJSON.encode(value), as: UTF8.self) + "\r\n\r\n", delay: delay)
    }
}

enum FakeGemini {
    static func response(
        text: String?, functionCalls: [FakeToolUse], finishReason: String?, usage: JSONValue, modelVersion: String
    ) -> JSONValue {
        var parts: [JSONValue] = []
        if let text { parts.append(["text": .string(text)]) }
        for call in functionCalls {
            var functionCall: [String: JSONValue] = ["name": .string(call.name), "args": call.input]
            if let id = call.id { functionCall["id"] = .string(id) }
            parts.append(["functionCall": .object(functionCall)])
        }
        var candidate: [String: JSONValue] = ["content": ["role": "model", "parts": .array(parts)], "index": 0]
        if let finishReason { candidate["finishReason"] = .string(finishReason) }
        return [
            "candidates": [.object(candidate)], "usageMetadata": usage, "modelVersion": .string(modelVersion),
            "responseId": "resp_fake",
        ]
    }

    static func usage(prompt: Int, candidates: Int, cached: Int?) -> JSONValue {
        var usage: [String: JSONValue] = [
            "promptTokenCount": .int(prompt), "candidatesTokenCount": .int(candidates),
            "totalTokenCount": .int(prompt + candidates),
        ]
        if let cached { usage["cachedContentTokenCount"] = .int(cached) }
        return .object(usage)
    }

    static func errorBody(code: Int, message: String, status: String, details: [JSONValue]) -> JSONValue {
        var error: [String: JSONValue] = ["code": .int(code), "message": .string(message), "status": .string(status)]
        if !details.isEmpty { error["details"] = .array(details) }
        return ["error": .object(error)]
    }
}

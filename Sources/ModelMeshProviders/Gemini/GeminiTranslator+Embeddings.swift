import Foundation
import ModelMesh

/// One Gemini embeddings call: where to post it and what to send.
public struct GeminiEmbeddingCall: Sendable, Hashable {
    /// The request path, e.g. `/v1beta/models/text-embedding-004:batchEmbedContents`.
    public var path: String
    /// The JSON body.
    public var body: Data
    /// Whether this is a `batchEmbedContents` call (a list input) rather than `embedContent`.
    public var isBatch: Bool

    public init(path: String, body: Data, isBatch: Bool) {
        self.path = path
        self.body = body
        self.isBatch = isBatch
    }
}

extension GeminiTranslator {
    /// The Gemini call for an OpenAI embeddings request.
    ///
    /// A single string input uses `:embedContent`
    /// (`{"model": "models/<name>", "content": {"parts": [{"text": ...}]}}`); a list uses
    /// `:batchEmbedContents` (`{"requests": [...]}`, one entry per input, in order).
    /// `dimensions` becomes `outputDimensionality`.
    ///
    /// - Parameters:
    ///   - request: The OpenAI-shaped request.
    ///   - wireName: The Gemini model name, e.g. `text-embedding-004`.
    /// - Throws: ``ProviderError`` of class `.invalidRequest` for token-array input (Gemini
    ///   embeds text only) or an empty list.
    public func embeddingRequest(_ request: EmbeddingRequest, model wireName: String) throws -> GeminiEmbeddingCall {
        let model = Self.bareModelName(wireName)
        func entry(_ text: String) -> JSONValue {
            var entry: [String: JSONValue] = [
                "model": .string("models/\(model)"), "content": ["parts": [["text": .string(text)]]],
            ]
            if let dimensions = request.dimensions { entry["outputDimensionality"] = .int(dimensions) }
            return .object(entry)
        }
        switch request.input {
        case .text(let text):
            return GeminiEmbeddingCall(
                path: "/v1beta/models/\(model):embedContent", body: try WireJSON.encode(entry(text)), isBatch: false)
        case .texts(let texts):
            guard !texts.isEmpty else {
                throw ProviderError(.invalidRequest, message: "Embeddings input is an empty list")
            }
            let body: JSONValue = ["requests": .array(texts.map(entry))]
            return GeminiEmbeddingCall(
                path: "/v1beta/models/\(model):batchEmbedContents", body: try WireJSON.encode(body), isBatch: true)
        case .tokens:
            throw ProviderError(.invalidRequest, message: "Gemini embeds text only; token-array input is not supported")
        }
    }

    /// Translates an `embedContent` (`{"embedding": {"values": [...]}}`) or
    /// `batchEmbedContents` (`{"embeddings": [{"values": [...]}, ...]}`) response.
    ///
    /// Gemini reports no token usage for embeddings, so ``EmbeddingResponse/usage`` is `nil`.
    ///
    /// - Throws: ``ProviderError`` of class `.unknown` when the body has neither shape or a
    ///   vector is not a list of numbers; the classified error for an embedded `error` object.
    public func embeddingResponse(_ body: Data, requestedModel: String) throws -> EmbeddingResponse {
        let json = try WireJSON.decodeBody(body, vendor: "Gemini", what: "embeddings response")
        if let error = json["error"], error.objectValue != nil {
            throw Self.error(
                status: error["code"]?.intValue, errorObject: error, headers: HeaderFields([]), now: Date())
        }
        let embeddings: [JSONValue]
        if let single = json["embedding"] {
            embeddings = [single]
        } else if let list = json["embeddings"]?.arrayValue {
            embeddings = list
        } else {
            throw WireJSON.malformed(vendor: "Gemini", "embeddings response has neither 'embedding' nor 'embeddings'")
        }
        var data: [EmbeddingResponse.Embedding] = []
        for (index, embedding) in embeddings.enumerated() {
            guard let values = embedding["values"]?.arrayValue else {
                throw WireJSON.malformed(vendor: "Gemini", "embedding \(index) has no 'values' list")
            }
            var vector: [Double] = []
            vector.reserveCapacity(values.count)
            for value in values {
                guard let number = value.doubleValue else {
                    throw WireJSON.malformed(vendor: "Gemini", "embedding \(index) holds a value that is not a number")
                }
                vector.append(number)
            }
            data.append(.init(index: index, embedding: vector))
        }
        return EmbeddingResponse(data: data, model: requestedModel)
    }
}

import Foundation

/// What the filter and selection stages need to know about one request, computed once.
struct RequestProfile: Sendable {
    var streaming: Bool
    var needs: ModelFeatures
    var estimatedInputTokens: Int
    /// The output cap the caller asked for (nil: the model's own).
    var requestedMaxTokens: Int?
    var sessionKey: String?
    var isEmbedding = false
    /// The caller named a model id: only that member may serve.
    var onlyModel: String?

    init(chat request: ChatCompletionRequest, streaming: Bool, sessionKey: String?) {
        self.streaming = streaming
        var needs: ModelFeatures = []
        if request.tools?.isEmpty == false { needs.insert(.toolCalling) }
        if request.messages.contains(where: { $0.content?.hasImage == true }) { needs.insert(.vision) }
        switch request.responseFormat?["type"]?.stringValue {
        case "json_schema": needs.insert(.structuredOutput)
        case "json_object": needs.insert(.jsonMode)
        default: break
        }
        self.needs = needs
        estimatedInputTokens = Self.estimateTokens(request)
        requestedMaxTokens = request.requestedMaxTokens
        self.sessionKey =
            sessionKey ?? request.extra["metadata"]?["session_id"]?.stringValue ?? request.user
    }

    init(embedding request: EmbeddingRequest) {
        streaming = false
        needs = []
        estimatedInputTokens = request.input.texts.reduce(0) { $0 + $1.utf8.count / 4 + 1 }
        requestedMaxTokens = 0
        sessionKey = nil
        isEmbedding = true
    }

    /// Why `model` cannot serve this request, or nil.
    func unmetRequirement(of model: ModelConfiguration) -> FilterReason? {
        if streaming, !model.delivery.streaming { return .deliveryMode("streaming") }
        if !streaming, !model.delivery.synchronous { return .deliveryMode("synchronous") }
        // Features are enforced for models that declare features; an undeclared set means
        // "not described", which must not silently empty every pool.
        if !model.features.isEmpty, !needs.isEmpty {
            var missing = needs.subtracting(model.features)
            // Structured output implies JSON mode.
            if missing.contains(.jsonMode), model.features.contains(.structuredOutput) { missing.remove(.jsonMode) }
            if let name = missing.featureNames.first { return .missingFeature(name) }
        }
        if let window = model.contextWindow, window > 0 {
            let needed = estimatedInputTokens + (requestedMaxTokens ?? 0)
            if needed > window { return .contextWindow(needed: needed, window: window) }
        }
        return nil
    }

    /// Output tokens reserved for budgeting.
    func reservedOutputTokens(on model: ModelConfiguration) -> Int {
        if isEmbedding { return 0 }
        return requestedMaxTokens ?? model.maxOutputTokens ?? 4096
    }

    /// Worst-case cost on `model`: estimated input plus the maximum output.
    func estimatedCost(on model: ModelConfiguration) -> Double {
        model.pricing?.cost(inputTokens: estimatedInputTokens, outputTokens: reservedOutputTokens(on: model)) ?? 0
    }

    func selectionContext(pool: String, now: Date) -> SelectionContext {
        SelectionContext(
            poolID: pool, sessionKey: sessionKey, now: now, estimatedInputTokens: estimatedInputTokens,
            maxOutputTokens: requestedMaxTokens ?? 1024)
    }

    /// About four bytes per token plus per-message overhead: a deliberate overestimate
    /// for English text, so windows and budgets err on the safe side.
    static func estimateTokens(_ request: ChatCompletionRequest) -> Int {
        var bytes = 0
        var images = 0
        for message in request.messages {
            bytes += 16
            switch message.content {
            case .text(let s): bytes += s.utf8.count
            case .parts(let parts):
                for part in parts {
                    switch part {
                    case .text(let t): bytes += t.utf8.count
                    case .imageURL: images += 1
                    case .other: bytes += 64
                    }
                }
            case nil: break
            }
            for call in message.toolCalls ?? [] { bytes += (call.function.arguments?.utf8.count ?? 0) + 32 }
        }
        for tool in request.tools ?? [] {
            bytes += tool.function.name.utf8.count + (tool.function.description?.utf8.count ?? 0) + 200
        }
        return bytes / 4 + images * 800
    }
}

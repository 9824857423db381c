import Foundation
import ModelMesh
import NIOHTTP1

/// The Anthropic Messages API wire format: ``AnthropicTranslator`` both ways, `x-api-key`,
/// `anthropic-version` (and `anthropic-beta`), `anthropic-ratelimit-*` headers.
struct AnthropicDialect: VendorDialect {
    let providerID: String
    /// The API host, without a version path.
    let baseURL: String
    /// The `anthropic-version` header value.
    let apiVersion: String
    /// `max_tokens` for requests that set none.
    let defaultMaxTokens: Int
    let vendorHeaders: HTTPHeaders
    private let translator = AnthropicTranslator()

    var apiKeyPlacement: APIKeyPlacement { .header(name: "x-api-key") }
    var rateLimitHeaders: RateLimitHeaderNames { .anthropic }

    /// - Throws: ``ProviderSetupError`` when `base_url` is malformed or a setting has the wrong type.
    init(configuration: ProviderConfiguration) throws {
        providerID = configuration.id
        if let configured = configuration.baseURL.flatMap({ $0.isEmpty ? nil : $0 }) {
            baseURL = try APIHostURL.normalize(
                configured, providerID: configuration.id, versionSegments: ["v1"],
                example: AnthropicProvider.defaultBaseURL)
        } else {
            baseURL = AnthropicProvider.defaultBaseURL
        }
        let settings = configuration.settings
        apiVersion =
            try Self.stringSetting(settings, "anthropic_version", provider: providerID)
            ?? AnthropicTranslator.apiVersion
        if let value = settings["max_tokens"], value != .null {
            guard let maxTokens = value.intValue, maxTokens > 0 else {
                throw ProviderSetupError(
                    code: "invalid_setting", providerID: providerID, message: "max_tokens must be a positive integer",
                    hint: "Write for example max_tokens: 4096")
            }
            defaultMaxTokens = maxTokens
        } else {
            defaultMaxTokens = AnthropicTranslator.defaultMaxTokens
        }
        var headers = HTTPHeaders()
        headers.add(name: "anthropic-version", value: apiVersion)
        switch settings["anthropic_beta"] {
        case .string(let beta)? where !beta.isEmpty:
            headers.add(name: "anthropic-beta", value: beta)
        case .array(let list)?:
            let names = list.compactMap(\.stringValue).filter { !$0.isEmpty }
            if !names.isEmpty { headers.add(name: "anthropic-beta", value: names.joined(separator: ",")) }
        default:
            break
        }
        vendorHeaders = headers
    }

    // MARK: Calls

    func completionCall(_ request: ChatCompletionRequest, target: ModelTarget) throws -> DialectCall {
        try messagesCall(request, target: target, stream: false)
    }

    func streamCall(_ request: ChatCompletionRequest, target: ModelTarget) throws -> DialectCall {
        try messagesCall(request, target: target, stream: true)
    }

    /// Anthropic has no embeddings endpoint.
    func embeddingsCall(_ request: EmbeddingRequest, target: ModelTarget) throws -> DialectCall {
        throw ProviderError(
            .invalidRequest,
            message:
                "Provider '\(providerID)' (Anthropic) does not serve embeddings; route embeddings to an embedding-capable pool"
        )
    }

    func modelListCall(cursor: String?) -> DialectCall {
        .get("/v1/models", query: ["limit=1000"] + (cursor.map { ["after_id=" + QueryString.escaped($0)] } ?? []))
    }

    func healthCheckCall() -> DialectCall { .get("/v1/models", query: ["limit=1"]) }

    private func messagesCall(_ request: ChatCompletionRequest, target: ModelTarget, stream: Bool) throws
        -> DialectCall
    {
        let body = try translator.request(
            Self.trimmingPrefill(request), model: target.wireName, stream: stream, defaultMaxTokens: defaultMaxTokens)
        return DialectCall(path: AnthropicTranslator.messagesPath, body: body)
    }

    // MARK: Answers

    func completion(from response: UpstreamResponse, target: ModelTarget) throws -> ProviderCompletion {
        let completion = try translator.response(response.bodyData, requestedModel: target.wireName)
        return ProviderCompletion(completion: completion, rateLimit: response.rateLimit)
    }

    func embeddings(from response: UpstreamResponse, target: ModelTarget) throws -> EmbeddingResponse {
        throw ProviderError(.invalidRequest, message: "Anthropic does not serve embeddings")
    }

    func modelListPage(from response: UpstreamResponse) throws -> (models: [ProviderModelInfo], next: String?) {
        guard let value = WireJSON.parse(response.bodyData), let data = value["data"]?.arrayValue else {
            throw ProviderError(
                .serverError, status: response.status, message: "The Anthropic model list could not be decoded")
        }
        let models = data.compactMap { entry in
            entry["id"]?.stringValue.map { ProviderModelInfo(id: $0, ownedBy: "anthropic") }
        }
        let next = value["has_more"]?.boolValue == true ? value["last_id"]?.stringValue : nil
        return (models, next)
    }

    func streamDecoder(target: ModelTarget) -> AnthropicEventDecoder {
        AnthropicEventDecoder(translator: AnthropicStreamTranslator(model: target.wireName))
    }

    /// The classified error of a failed response: the vendor body decides the class; the
    /// transport's `Retry-After` (which also reads `retry-after-ms`) and rate limits fill in.
    func error(for response: UpstreamResponse) -> ProviderError {
        var error = AnthropicTranslator.error(
            status: response.status, headers: response.headers.map { ($0.name, $0.value) }, body: response.bodyData)
        error.status = response.status
        error.retryAfter = response.retryAfter ?? error.retryAfter
        error.rateLimit = error.rateLimit ?? response.rateLimit
        return error
    }

    // MARK: Settings

    /// Anthropic rejects a final assistant turn (a prefill) that ends in whitespace, and a
    /// resumed stream's prefill often does ("Hello, "); the model continues fine without it.
    static func trimmingPrefill(_ request: ChatCompletionRequest) -> ChatCompletionRequest {
        guard let last = request.messages.last, last.role == "assistant", last.toolCalls?.isEmpty ?? true,
            case .text(let text)? = last.content
        else { return request }
        var trimmed = text
        while let character = trimmed.last, character.isWhitespace { trimmed.removeLast() }
        guard trimmed.count != text.count else { return request }
        var copy = request
        copy.messages[copy.messages.count - 1].content = .text(trimmed)
        return copy
    }

    private static func stringSetting(_ settings: [String: JSONValue], _ key: String, provider: String) throws
        -> String?
    {
        guard let value = settings[key], value != .null else { return nil }
        guard let text = value.stringValue, !text.isEmpty else {
            throw ProviderSetupError(
                code: "invalid_setting", providerID: provider, message: "\(key) must be a non-empty string",
                hint: "Write for example \(key): \"2023-06-01\"")
        }
        return text
    }
}

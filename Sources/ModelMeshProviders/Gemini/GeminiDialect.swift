import Foundation
import ModelMesh
import NIOHTTP1

/// The Gemini API wire format (`v1beta`): ``GeminiTranslator`` both ways, the key in the
/// `key` query parameter.
struct GeminiDialect: VendorDialect {
    /// The API host, without a version path.
    let baseURL: String
    /// `maxOutputTokens` for requests that set none (`nil`: Gemini's default).
    let defaultMaxTokens: Int?
    /// The `safety_settings` sent with every generation request.
    let safetySettings: JSONValue?
    private let translator = GeminiTranslator()

    var apiKeyPlacement: APIKeyPlacement { .query(name: "key") }
    var rateLimitHeaders: RateLimitHeaderNames { .openAI }
    var vendorHeaders: HTTPHeaders { [:] }

    /// - Throws: ``ProviderSetupError`` when `base_url` is malformed or a setting has the wrong type.
    init(configuration: ProviderConfiguration) throws {
        let id = configuration.id
        if let configured = configuration.baseURL.flatMap({ $0.isEmpty ? nil : $0 }) {
            baseURL = try APIHostURL.normalize(
                configured, providerID: id, versionSegments: ["v1beta", "v1"], example: GeminiProvider.defaultBaseURL)
        } else {
            baseURL = GeminiProvider.defaultBaseURL
        }
        let settings = configuration.settings
        if let value = settings["max_tokens"], value != .null {
            guard let maxTokens = value.intValue, maxTokens > 0 else {
                throw ProviderSetupError(
                    code: "invalid_setting", providerID: id, message: "max_tokens must be a positive integer",
                    hint: "Write for example max_tokens: 8192")
            }
            defaultMaxTokens = maxTokens
        } else {
            defaultMaxTokens = nil
        }
        switch settings["safety_settings"] {
        case nil, .null?:
            safetySettings = nil
        case .array(let list)? where list.allSatisfy({ $0.objectValue != nil }):
            safetySettings = .array(list)
        default:
            throw ProviderSetupError(
                code: "invalid_setting", providerID: id, message: "safety_settings must be a list of objects",
                hint: "Write for example safety_settings: [{category: HARM_CATEGORY_HARASSMENT, threshold: BLOCK_NONE}]"
            )
        }
    }

    // MARK: Calls

    func completionCall(_ request: ChatCompletionRequest, target: ModelTarget) throws -> DialectCall {
        DialectCall(
            path: GeminiTranslator.generatePath(model: target.wireName, stream: false),
            body: try translator.request(request, defaultMaxTokens: defaultMaxTokens, safetySettings: safetySettings))
    }

    func streamCall(_ request: ChatCompletionRequest, target: ModelTarget) throws -> DialectCall {
        DialectCall(
            path: GeminiTranslator.generatePath(model: target.wireName, stream: true),
            body: try translator.request(request, defaultMaxTokens: defaultMaxTokens, safetySettings: safetySettings))
    }

    func embeddingsCall(_ request: EmbeddingRequest, target: ModelTarget) throws -> DialectCall {
        let call = try translator.embeddingRequest(request, model: target.wireName)
        return DialectCall(path: call.path, body: call.body)
    }

    func modelListCall(cursor: String?) -> DialectCall {
        .get(
            "/v1beta/models", query: ["pageSize=1000"] + (cursor.map { ["pageToken=" + QueryString.escaped($0)] } ?? [])
        )
    }

    func healthCheckCall() -> DialectCall { .get("/v1beta/models", query: ["pageSize=1"]) }

    // MARK: Answers

    func completion(from response: UpstreamResponse, target: ModelTarget) throws -> ProviderCompletion {
        let completion = try translator.response(response.bodyData, requestedModel: target.wireName)
        return ProviderCompletion(completion: completion, rateLimit: response.rateLimit)
    }

    func embeddings(from response: UpstreamResponse, target: ModelTarget) throws -> EmbeddingResponse {
        try translator.embeddingResponse(response.bodyData, requestedModel: target.wireName)
    }

    /// Ids without the `models/` prefix, context windows from `inputTokenLimit`.
    func modelListPage(from response: UpstreamResponse) throws -> (models: [ProviderModelInfo], next: String?) {
        guard let value = WireJSON.parse(response.bodyData), value.objectValue != nil else {
            throw ProviderError(
                .serverError, status: response.status, message: "The Gemini model list could not be decoded")
        }
        let models = (value["models"]?.arrayValue ?? []).compactMap { entry -> ProviderModelInfo? in
            guard let name = entry["name"]?.stringValue else { return nil }
            let id = name.hasPrefix("models/") ? String(name.dropFirst("models/".count)) : name
            return ProviderModelInfo(id: id, ownedBy: "google", contextWindow: entry["inputTokenLimit"]?.intValue)
        }
        let next = value["nextPageToken"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        return (models, next)
    }

    func streamDecoder(target: ModelTarget) -> GeminiEventDecoder {
        GeminiEventDecoder(translator: GeminiStreamTranslator(model: target.wireName))
    }

    /// The classified error of a failed response; the transport's `Retry-After` (which also
    /// reads `retry-after-ms`) wins over a `RetryInfo` delay.
    func error(for response: UpstreamResponse) -> ProviderError {
        var error = GeminiTranslator.error(
            status: response.status, headers: response.headers.map { ($0.name, $0.value) }, body: response.bodyData)
        error.status = response.status
        error.retryAfter = response.retryAfter ?? error.retryAfter
        error.rateLimit = error.rateLimit ?? response.rateLimit
        return error
    }
}

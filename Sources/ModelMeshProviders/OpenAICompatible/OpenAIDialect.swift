import Foundation
import ModelMesh
import NIOHTTP1

/// The OpenAI chat-completions wire format, as the whole OpenAI-compatible family speaks it.
///
/// Requests go out as they came, with `model` set to the target's wire name; unknown fields
/// pass through unchanged. The key is a bearer token; vendors add their own headers
/// (OpenRouter's `HTTP-Referer` and `X-Title`, OpenAI's organization and project).
struct OpenAIDialect: VendorDialect {
    let vendor: OpenAICompatibleVendor
    /// The base URL with its version path (`https://api.openai.com/v1`).
    let baseURL: String
    let vendorHeaders: HTTPHeaders
    /// Whether streamed requests ask for a final usage chunk.
    let requestsStreamUsage: Bool

    var apiKeyPlacement: APIKeyPlacement { .header(name: "authorization", prefix: "Bearer ") }
    var rateLimitHeaders: RateLimitHeaderNames { .openAI }

    /// - Throws: ``ProviderSetupError`` when no base URL is known or it is malformed.
    init(configuration: ProviderConfiguration, vendor: OpenAICompatibleVendor) throws {
        self.vendor = vendor
        if let configured = configuration.baseURL.flatMap({ $0.isEmpty ? nil : $0 }) {
            baseURL = try Self.normalizeBaseURL(configured, providerID: configuration.id)
        } else if let vendorDefault = vendor.defaultBaseURL {
            // Vendor defaults are exact (Perplexity serves at the root, without /v1).
            baseURL = vendorDefault
        } else {
            throw ProviderSetupError(
                code: "missing_base_url", providerID: configuration.id,
                message: "connector \(vendor.connectorID) has no default base_url",
                hint: "Set base_url, including the version path (e.g. http://localhost:8000/v1)")
        }
        requestsStreamUsage = configuration.settings["stream_usage"]?.boolValue ?? vendor.streamsUsage

        var headers = HTTPHeaders()
        switch vendor.connectorID {
        case OpenAICompatibleVendor.openRouter.connectorID:
            if let referer = configuration.settings["http_referer"]?.stringValue, !referer.isEmpty {
                headers.add(name: "HTTP-Referer", value: referer)
            }
            let title = configuration.settings["x_title"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            headers.add(name: "X-Title", value: title ?? "ModelMesh")
        case OpenAICompatibleVendor.openAI.connectorID:
            if let organization = configuration.settings["organization"]?.stringValue, !organization.isEmpty {
                headers.add(name: "OpenAI-Organization", value: organization)
            }
            if let project = configuration.settings["project"]?.stringValue, !project.isEmpty {
                headers.add(name: "OpenAI-Project", value: project)
            }
        default:
            break
        }
        vendorHeaders = headers
    }

    // MARK: Calls

    func completionCall(_ request: ChatCompletionRequest, target: ModelTarget) throws -> DialectCall {
        if let wire = request.wireBody, wire.scan.stream != true, !wire.scan.hasStreamOptions,
            let call = Self.spliced(wire, model: target.wireName, includeUsage: false)
        {
            return call
        }
        var body = request
        body.model = target.wireName
        // A complete answer is one JSON body: never ask the upstream to stream it.
        if body.stream == true { body.stream = nil }
        body.streamOptions = nil
        return try .post("/chat/completions", json: body)
    }

    func streamCall(_ request: ChatCompletionRequest, target: ModelTarget) throws -> DialectCall {
        if let wire = request.wireBody, wire.scan.stream == true,
            let call = Self.spliced(wire, model: target.wireName, includeUsage: requestsStreamUsage)
        {
            return call
        }
        var body = request
        body.model = target.wireName
        body.stream = true
        if requestsStreamUsage {
            var options = body.streamOptions?.objectValue ?? [:]
            options["include_usage"] = true
            body.streamOptions = .object(options)
        }
        return try .post("/chat/completions", json: body)
    }

    /// The client's own bytes with `model` (and usage in the stream) spliced in: unknown
    /// members, key order and number spellings reach the upstream as the client wrote them.
    /// Nil when the body has repeated members (then it is encoded from the decoded request).
    private static func spliced(_ wire: OpenAIWireBody, model: String, includeUsage: Bool) -> DialectCall? {
        guard !wire.scan.hasRepeatedMembers,
            let bytes = try? OpenAIRequestScan.splice(wire.bytes, scan: wire.scan, model: model, includeUsage: includeUsage)
        else { return nil }
        return DialectCall(path: "/chat/completions", body: Data(bytes))
    }

    func embeddingsCall(_ request: EmbeddingRequest, target: ModelTarget) throws -> DialectCall {
        var body = request
        body.model = target.wireName
        return try .post("/embeddings", json: body)
    }

    func modelListCall(cursor: String?) -> DialectCall { .get("/models") }

    func healthCheckCall() -> DialectCall { .get("/models") }

    // MARK: Answers

    func completion(from response: UpstreamResponse, target: ModelTarget) throws -> ProviderCompletion {
        let data = response.bodyData
        // Decoded once; when nothing had to be repaired, the bytes go on to the client as they are.
        let (completion, unchanged) = try decodeCompletion(data, wireName: target.wireName, status: response.status)
        return ProviderCompletion(completion: completion, rateLimit: response.rateLimit, body: unchanged ? data : nil)
    }

    /// An answer relayed as bytes: usage, model and finish reasons come from a scan, and the
    /// answer is decoded only if something asks for it (a request log with response text).
    /// An answer the scan finds incomplete, irregular or an in-band error is decoded (and
    /// repaired or refused) as by ``completion(from:target:)``.
    func relayedCompletion(from response: UpstreamResponse, target: ModelTarget) throws -> ProviderCompletion {
        let data = response.bodyData
        let scanned = data.withUnsafeBytes { bytes in
            Result { () throws(OpenAIScanError) in try OpenAIAnswerScan.scan(bytes) }
        }
        guard case .success(let scan) = scanned, !scan.hasError, !scan.irregular, let id = scan.id,
            scan.object != nil, scan.hasCreated, let model = scan.model, scan.hasChoicesArray
        else { return try completion(from: response, target: target) }
        let usage = scan.usage.map {
            Usage(
                promptTokens: $0.promptTokens ?? 0, completionTokens: $0.completionTokens ?? 0,
                totalTokens: $0.totalTokens, cachedTokens: $0.cachedTokens, cacheWriteTokens: $0.cacheWriteTokens)
        }
        let wireName = target.wireName
        let status = response.status
        return ProviderCompletion(
            relaying: data, summary: .init(usage: usage, model: model, finishReasons: scan.finishReasons),
            rateLimit: response.rateLimit
        ) { [self] in
            // The bytes go to the client either way; a shape the decoder refuses leaves the
            // library-side value without choices rather than failing an answered request.
            (try? decodeCompletion(data, wireName: wireName, status: status).0)
                ?? ChatCompletion(id: id, model: model, choices: [], usage: usage)
        }
    }

    func embeddings(from response: UpstreamResponse, target: ModelTarget) throws -> EmbeddingResponse {
        guard let embeddings = Self.decodeEmbeddings(response.bodyData, wireName: target.wireName) else {
            throw ProviderError(
                .serverError, status: response.status,
                message: "The upstream answered with an undecodable embeddings body: \(response.bodyText.prefix(200))",
                rateLimit: response.rateLimit)
        }
        return embeddings
    }

    func modelListPage(from response: UpstreamResponse) throws -> (models: [ProviderModelInfo], next: String?) {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: response.bodyData),
            let data = value["data"]?.arrayValue ?? value["models"]?.arrayValue
        else {
            throw ProviderError(.serverError, status: response.status, message: "The model list could not be decoded")
        }
        let models = data.compactMap { entry -> ProviderModelInfo? in
            guard let id = entry["id"]?.stringValue else { return nil }
            let window =
                entry["context_length"]?.intValue ?? entry["context_window"]?.intValue
                ?? entry["max_model_len"]?.intValue
            return ProviderModelInfo(id: id, ownedBy: entry["owned_by"]?.stringValue, contextWindow: window)
        }
        return (models, nil)
    }

    func streamDecoder(target: ModelTarget) -> OpenAIChunkDecoder {
        OpenAIChunkDecoder(fallbackModel: target.wireName)
    }

    func relayingStreamDecoder(target: ModelTarget) -> OpenAIChunkDecoder {
        var decoder = OpenAIChunkDecoder(fallbackModel: target.wireName)
        decoder.keepBytes = true
        return decoder
    }

    func error(for response: UpstreamResponse) -> ProviderError {
        OpenAIErrorClassifier.error(for: response)
    }

    // MARK: Decoding

    /// The completion in `data`, and whether it decoded as it is (no field had to be filled in).
    private func decodeCompletion(_ data: Data, wireName: String, status: Int) throws -> (ChatCompletion, Bool) {
        let decoder = JSONDecoder()
        if let completion = try? decoder.decode(ChatCompletion.self, from: data) { return (completion, true) }
        guard let value = try? decoder.decode(JSONValue.self, from: data), var object = value.objectValue else {
            throw ProviderError(
                .serverError, status: status,
                message:
                    "The upstream answered with an undecodable body: \(String(decoding: data.prefix(200), as: UTF8.self))"
            )
        }
        if let error = object["error"], error != .null {
            throw OpenAIErrorClassifier.inBandError(error)
        }
        // Lenient path for servers that omit `id`, `object`, `created` or `model`.
        if object["id"] == nil { object["id"] = "" }
        if object["object"] == nil { object["object"] = "chat.completion" }
        if object["created"] == nil { object["created"] = .int(Int(Date().timeIntervalSince1970)) }
        if object["model"] == nil || object["model"] == .null { object["model"] = .string(wireName) }
        do {
            return (
                try decoder.decode(ChatCompletion.self, from: JSONEncoder().encode(JSONValue.object(object))), false
            )
        } catch {
            throw ProviderError(
                .serverError, status: status, message: "The upstream answer is not a chat completion: \(error)")
        }
    }

    /// Decodes an embeddings body; base64 vectors (`encoding_format: base64`) become numbers.
    static func decodeEmbeddings(_ data: Data, wireName: String) -> EmbeddingResponse? {
        let decoder = JSONDecoder()
        if let response = try? decoder.decode(EmbeddingResponse.self, from: data) { return response }
        guard let value = try? decoder.decode(JSONValue.self, from: data), let items = value["data"]?.arrayValue else {
            return nil
        }
        var embeddings: [EmbeddingResponse.Embedding] = []
        for (position, item) in items.enumerated() {
            let index = item["index"]?.intValue ?? position
            if let numbers = item["embedding"]?.arrayValue {
                embeddings.append(.init(index: index, embedding: numbers.compactMap(\.doubleValue)))
            } else if let text = item["embedding"]?.stringValue, let bytes = Data(base64Encoded: text) {
                // Little-endian float32 values.
                var vector: [Double] = []
                vector.reserveCapacity(bytes.count / 4)
                var offset = bytes.startIndex
                while offset + 4 <= bytes.endIndex {
                    let bits = bytes[offset..<offset + 4].enumerated().reduce(UInt32(0)) {
                        $0 | UInt32($1.element) << (8 * UInt32($1.offset))
                    }
                    vector.append(Double(Float(bitPattern: bits)))
                    offset += 4
                }
                embeddings.append(.init(index: index, embedding: vector))
            } else {
                return nil
            }
        }
        let usage = value["usage"].flatMap { try? JSONEncoder().encode($0) }.flatMap {
            try? decoder.decode(Usage.self, from: $0)
        }
        return EmbeddingResponse(data: embeddings, model: value["model"]?.stringValue ?? wireName, usage: usage)
    }

    /// Applies the base-URL convention: the URL includes the version path; a URL with no
    /// path at all gets `/v1`. A trailing `/` is dropped.
    static func normalizeBaseURL(_ text: String, providerID: String) throws -> String {
        var trimmed = text.trimmingCharacters(in: .whitespaces)
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else {
            throw ProviderSetupError(
                code: "invalid_base_url", providerID: providerID,
                message: "base_url '\(trimmed)' is not an http(s) URL",
                hint: "Write it like https://api.openai.com/v1")
        }
        if components.path.isEmpty { trimmed += "/v1" }
        return trimmed
    }
}

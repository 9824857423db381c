import Foundation
import ModelMesh
import NIOHTTP1

/// A connector for OpenAI and every server that speaks its wire format: Groq, DeepSeek,
/// Mistral, Together, OpenRouter, xAI, Perplexity, Ollama, vLLM, LM Studio, LocalAI and any
/// `openai-compatible.llm.v1` endpoint.
///
/// Requests go out as they came, with `model` set to the target's wire name; unknown fields
/// (`seed`, `logprobs`, vendor extensions) pass through unchanged. Streams ask for a final
/// usage chunk and end normally on `data: [DONE]`, or when the body ends properly after every
/// choice reported its `finish_reason` (servers that never send `[DONE]`); a body that ends
/// before that fails with `.streamInterrupted`.
///
/// ```swift
/// let transport = HTTPTransport()
/// let groq = try OpenAICompatibleProvider(
///     configuration: ProviderConfiguration(id: "groq", apiKey: Secret(key)), transport: transport)
/// let answer = try await groq.complete(request, target: target, context: context)
/// ```
public final class OpenAICompatibleProvider: ProviderConnector, CustomReflectable {
    /// The provider id.
    public let id: String
    /// The vendor entry the connector ID selected.
    public let vendor: OpenAICompatibleVendor
    /// The base URL with its version path (`https://api.openai.com/v1`); endpoints are appended.
    public let baseURL: String
    /// Bounds one attempt (connect to last byte of a complete answer; the head of a stream).
    public let timeout: Duration
    /// The longest silence tolerated inside a streamed body.
    public let streamIdleTimeout: Duration

    private let transport: HTTPTransport
    private let apiKey: Secret?
    private let staticHeaders: HTTPHeaders
    private let redactions: [String]
    private let requestsStreamUsage: Bool
    private let invalidEvents = EventCounter()

    /// Creates the connector for `configuration`.
    ///
    /// - Parameters:
    ///   - configuration: The provider; its `connector` picks the vendor unless `vendor` is given.
    ///   - transport: The shared HTTP transport.
    ///   - vendor: Overrides the vendor entry (for custom family members).
    ///   - streamIdleTimeout: The stall deadline inside streams (default: the provider timeout).
    /// - Throws: ``ProviderSetupError`` when no base URL is known or it is malformed.
    public init(
        configuration: ProviderConfiguration, transport: HTTPTransport, vendor: OpenAICompatibleVendor? = nil,
        streamIdleTimeout: Duration? = nil
    ) throws {
        let vendor = vendor ?? OpenAICompatibleVendor.vendor(forConnector: configuration.connector) ?? .generic
        self.id = configuration.id
        self.vendor = vendor
        self.transport = transport
        if let configured = configuration.baseURL.flatMap({ $0.isEmpty ? nil : $0 }) {
            self.baseURL = try Self.normalizeBaseURL(configured, providerID: configuration.id)
        } else if let vendorDefault = vendor.defaultBaseURL {
            // Vendor defaults are exact (Perplexity serves at the root, without /v1).
            self.baseURL = vendorDefault
        } else {
            throw ProviderSetupError(
                code: "missing_base_url", providerID: configuration.id,
                message: "connector \(vendor.connectorID) has no default base_url",
                hint: "Set base_url, including the version path (e.g. http://localhost:8000/v1)")
        }
        let timeout = configuration.timeout ?? vendor.defaultTimeout
        self.timeout = timeout
        self.streamIdleTimeout = streamIdleTimeout ?? timeout
        self.apiKey = configuration.apiKey.flatMap { $0.isEmpty ? nil : $0 }
        self.requestsStreamUsage = configuration.settings["stream_usage"]?.boolValue ?? vendor.streamsUsage

        var headers = HTTPHeaders()
        headers.add(name: "accept", value: "application/json")
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
        var redactions = [apiKey?.value].compactMap { $0 }
        // Configured headers win over the vendor's (sorted: the order must not depend on hashing).
        for (name, value) in configuration.headers.sorted(by: { $0.key < $1.key }) {
            headers.replaceOrAdd(name: name, value: value.value)
            if value.value.count >= 8 { redactions.append(value.value) }
        }
        self.staticHeaders = headers
        self.redactions = redactions
    }

    /// A mirror without credentials: only the id, the connector and the endpoint.
    public var customMirror: Mirror {
        Mirror(self, children: ["id": id, "connector": vendor.connectorID, "baseURL": baseURL], displayStyle: .class)
    }

    /// Events of streamed answers that could not be decoded and were skipped, since creation.
    public var invalidStreamEventCount: Int { invalidEvents.value }

    /// The stream's deadlines are enforced by the connection watchdog (no timer per chunk).
    public var enforcesStreamDeadlines: Bool { true }

    /// `https://host/v1/chat/completions`
    public var chatCompletionsURL: String { baseURL + "/chat/completions" }
    /// `https://host/v1/embeddings`
    public var embeddingsURL: String { baseURL + "/embeddings" }
    /// `https://host/v1/models`
    public var modelsURL: String { baseURL + "/models" }

    // MARK: ProviderConnector

    public func complete(_ request: ChatCompletionRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderCompletion
    {
        var body = request
        body.model = target.wireName
        // A complete answer is one JSON body: never ask the upstream to stream it.
        if body.stream == true { body.stream = nil }
        body.streamOptions = nil
        let upstream = try makeRequest(body, url: chatCompletionsURL, context: context)
        let response = try await transport.send(upstream, budget: context.budget(timeout: timeout))
        guard response.isSuccess else { throw upstream.redact(OpenAIErrorClassifier.error(for: response)) }
        do {
            let data = response.bodyData
            // Decoded once; when nothing had to be repaired, the bytes go on to the client as they are.
            let (completion, unchanged) = try decodeCompletion(data, wireName: target.wireName, status: response.status)
            return ProviderCompletion(
                completion: completion, rateLimit: response.rateLimit, body: unchanged ? data : nil)
        } catch var error as ProviderError {
            error.rateLimit = error.rateLimit ?? response.rateLimit
            throw upstream.redact(error)
        }
    }

    public func stream(_ request: ChatCompletionRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderStream
    {
        var body = request
        body.model = target.wireName
        body.stream = true
        if requestsStreamUsage {
            var options = body.streamOptions?.objectValue ?? [:]
            options["include_usage"] = true
            body.streamOptions = .object(options)
        }
        var upstream = try makeRequest(body, url: chatCompletionsURL, context: context)
        upstream.headers.replaceOrAdd(name: "accept", value: "text/event-stream")
        let stream = try await transport.openEventStream(
            upstream, headBudget: context.budget(timeout: timeout), idleTimeout: streamIdleTimeout,
            decoder: OpenAIChunkDecoder(fallbackModel: target.wireName),
            deadlines: context.streamDeadlines, carriesOutput: \.carriesOutput,
            onInvalidEvent: { [self] _ in invalidEvents.increment() },
            failure: { OpenAIErrorClassifier.error(for: $0) })
        return ProviderStream(chunks: stream.elements, rateLimit: stream.rateLimit)
    }

    public func embed(_ request: EmbeddingRequest, target: ModelTarget, context: AttemptContext) async throws
        -> ProviderEmbedding
    {
        var body = request
        body.model = target.wireName
        let upstream = try makeRequest(body, url: embeddingsURL, context: context)
        let response = try await transport.send(upstream, budget: context.budget(timeout: timeout))
        guard response.isSuccess else { throw upstream.redact(OpenAIErrorClassifier.error(for: response)) }
        guard let embeddings = Self.decodeEmbeddings(response.bodyData, wireName: target.wireName) else {
            throw upstream.redact(
                ProviderError(
                    .serverError, status: response.status,
                    message:
                        "The upstream answered with an undecodable embeddings body: \(response.bodyText.prefix(200))",
                    rateLimit: response.rateLimit))
        }
        return ProviderEmbedding(response: embeddings, rateLimit: response.rateLimit)
    }

    public func listModels() async throws -> [ProviderModelInfo] {
        let response = try await getModels()
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: response.bodyData),
            let data = value["data"]?.arrayValue ?? value["models"]?.arrayValue
        else {
            throw ProviderError(.serverError, status: response.status, message: "The model list could not be decoded")
        }
        return data.compactMap { entry in
            guard let id = entry["id"]?.stringValue else { return nil }
            let window =
                entry["context_length"]?.intValue ?? entry["context_window"]?.intValue
                ?? entry["max_model_len"]?.intValue
            return ProviderModelInfo(id: id, ownedBy: entry["owned_by"]?.stringValue, contextWindow: window)
        }
    }

    public func healthCheck() async throws {
        _ = try await getModels()
    }

    /// Nothing to release: the transport is shared and shut down by its owner.
    public func shutdown() async {}

    // MARK: Internals

    private func getModels() async throws -> UpstreamResponse {
        var upstream = UpstreamRequest(
            method: .GET, url: modelsURL, headers: staticHeaders, redactions: redactions)
        if let apiKey { upstream.headers.replaceOrAdd(name: "authorization", value: "Bearer \(apiKey.value)") }
        let response = try await transport.send(upstream, budget: timeout)
        guard response.isSuccess else { throw upstream.redact(OpenAIErrorClassifier.error(for: response)) }
        return response
    }

    private func makeRequest(_ body: some Encodable, url: String, context: AttemptContext) throws -> UpstreamRequest {
        var headers = staticHeaders
        if let apiKey, !headers.contains(name: "authorization") {
            headers.add(name: "authorization", value: "Bearer \(apiKey.value)")
        }
        if !context.requestID.isEmpty { headers.replaceOrAdd(name: "x-request-id", value: context.requestID) }
        return try UpstreamRequest.json(
            body, url: url, headers: headers, redactions: redactions, rateLimitHeaders: .openAI, clock: context.clock)
    }

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
            return (try decoder.decode(ChatCompletion.self, from: JSONEncoder().encode(JSONValue.object(object))), false)
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

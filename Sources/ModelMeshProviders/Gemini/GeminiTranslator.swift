import Foundation
import ModelMesh

/// Translates OpenAI-shaped chat completions and embeddings to the Google Gemini API
/// (`generativelanguage.googleapis.com`, `v1beta`) and back.
///
/// Pure wire-format work, no networking: the connector posts ``request(_:defaultMaxTokens:safetySettings:)``
/// to ``generatePath(model:stream:)`` (the API key goes in the `x-goog-api-key` header or the
/// `key` query parameter), hands a successful body to ``response(_:requestedModel:)``, each
/// streamed `data:` payload to a ``GeminiStreamTranslator``, and a failed response to
/// ``error(status:headers:body:now:)``.
///
/// ```swift
/// let translator = GeminiTranslator()
/// let path = GeminiTranslator.generatePath(model: "gemini-2.0-flash", stream: false)
/// let body = try translator.request(request)
/// // ... POST body to base + path, receive `data` ...
/// let completion = try translator.response(data, requestedModel: "gemini-2.0-flash")
/// ```
public struct GeminiTranslator: Sendable {
    private let now: @Sendable () -> Date

    /// Creates a translator.
    ///
    /// - Parameter now: The clock used for the `created` timestamp of translated responses.
    public init(now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
    }

    /// The request path (and query) for a model's `generateContent`, or for
    /// `streamGenerateContent` as server-sent events when `stream` is true.
    ///
    /// `GeminiTranslator.generatePath(model: "gemini-2.0-flash", stream: true)` is
    /// `/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse`.
    public static func generatePath(model: String, stream: Bool) -> String {
        "/v1beta/models/\(bareModelName(model))" + (stream ? ":streamGenerateContent?alt=sse" : ":generateContent")
    }

    /// A model name without a leading `models/`.
    static func bareModelName(_ model: String) -> String {
        model.hasPrefix("models/") ? String(model.dropFirst("models/".count)) : model
    }

    // MARK: - Request

    /// The JSON body for `generateContent` / `streamGenerateContent`.
    ///
    /// - `system` and `developer` messages become `systemInstruction`, joined by a blank line.
    /// - `user` → role `user`, `assistant` → role `model`; text parts become `text`, `data:`
    ///   images `inlineData`, `https:` images `fileData` (MIME type guessed from the file
    ///   extension, `image/jpeg` when unknown).
    /// - Assistant `tool_calls` become `functionCall` parts; `tool` messages become
    ///   `functionResponse` parts (`response: {"content": <text>}`) in a `user` turn, named
    ///   after the function of the earlier assistant tool call with that id. Consecutive
    ///   messages of one role are merged into one turn.
    /// - `tools` → `functionDeclarations`; `tool_choice` → `toolConfig.functionCallingConfig`
    ///   (`auto` → `AUTO`, `none` → `NONE`, `required` → `ANY`, a named function → `ANY` with
    ///   `allowedFunctionNames`).
    /// - `generationConfig`: `maxOutputTokens`, `temperature`, `topP`, `stopSequences`, `seed`,
    ///   `presencePenalty`, `frequencyPenalty`; `response_format` `json_object` / `json_schema`
    ///   → `responseMimeType: application/json` (+ `responseSchema`).
    ///
    /// Schemas (tool parameters, `responseSchema`) are reduced to what Gemini's OpenAPI subset
    /// accepts: `additionalProperties`, `$schema`, `$id` and `$comment` are dropped and
    /// `"type": ["string", "null"]` becomes `"type": "string", "nullable": true`.
    ///
    /// - Parameters:
    ///   - request: The OpenAI-shaped request.
    ///   - defaultMaxTokens: `maxOutputTokens` when the request sets none (omitted when `nil`,
    ///     leaving Gemini's default).
    ///   - safetySettings: The provider's `safety_settings`, sent as `safetySettings`.
    /// - Throws: ``ProviderError`` of class `.invalidRequest` when the request cannot be
    ///   expressed.
    public func request(
        _ request: ChatCompletionRequest, defaultMaxTokens: Int? = nil, safetySettings: JSONValue? = nil
    ) throws -> Data {
        try WireJSON.encode(requestBody(request, defaultMaxTokens: defaultMaxTokens, safetySettings: safetySettings))
    }

    /// The JSON tree of ``request(_:defaultMaxTokens:safetySettings:)``.
    public func requestBody(
        _ request: ChatCompletionRequest, defaultMaxTokens: Int? = nil, safetySettings: JSONValue? = nil
    ) throws -> JSONValue {
        var body: [String: JSONValue] = [:]
        var systemTexts: [String] = []
        var contents = ConversationTurns()
        var functionNameByCallID: [String: String] = [:]

        func append(_ role: String, _ parts: [JSONValue]) { contents.append(role, parts) }

        for (position, message) in request.messages.enumerated() {
            switch message.role {
            case "system", "developer":
                let text = message.content?.text ?? ""
                if !text.isEmpty { systemTexts.append(text) }
            case "user":
                append("user", try Self.contentParts(message.content, position: position))
            case "assistant":
                var parts = try Self.contentParts(message.content, position: position)
                for call in message.toolCalls ?? [] {
                    guard let name = call.function.name, !name.isEmpty else {
                        throw ProviderError(
                            .invalidRequest, message: "messages[\(position)]: a tool call has no function name")
                    }
                    let id = call.id ?? ""
                    if !id.isEmpty { functionNameByCallID[id] = name }
                    let args = try WireJSON.toolArguments(
                        call.function.arguments, toolName: name, callID: id, path: "messages[\(position)]")
                    parts.append(["functionCall": ["name": .string(name), "args": args]])
                }
                append("model", parts)
            case "tool":
                guard let id = message.toolCallID, !id.isEmpty else {
                    throw ProviderError(
                        .invalidRequest, message: "messages[\(position)]: a tool message has no tool_call_id")
                }
                guard let name = functionNameByCallID[id] ?? message.name else {
                    throw ProviderError(
                        .invalidRequest,
                        message:
                            "messages[\(position)]: tool_call_id '\(id)' matches no earlier assistant tool call; Gemini needs the function name"
                    )
                }
                let content = message.content?.text ?? ""
                append(
                    "user", [["functionResponse": ["name": .string(name), "response": ["content": .string(content)]]]])
            default:
                throw ProviderError(
                    .invalidRequest, message: "messages[\(position)]: role '\(message.role)' is not supported by Gemini"
                )
            }
        }

        body["contents"] = .array(contents.turns.map { ["role": .string($0.role), "parts": .array($0.items)] })
        if !systemTexts.isEmpty {
            body["systemInstruction"] = ["parts": [["text": .string(systemTexts.joined(separator: "\n\n"))]]]
        }

        if let tools = request.tools, !tools.isEmpty {
            let declarations: [JSONValue] = tools.map { tool in
                var declaration: [String: JSONValue] = ["name": .string(tool.function.name)]
                if let description = tool.function.description { declaration["description"] = .string(description) }
                if let parameters = tool.function.parameters, !Self.isEmptyObjectSchema(parameters) {
                    declaration["parameters"] = Self.schema(parameters)
                }
                return .object(declaration)
            }
            body["tools"] = [["functionDeclarations": .array(declarations)]]
            if let config = try Self.functionCallingConfig(request.toolChoice) {
                body["toolConfig"] = ["functionCallingConfig": config]
            }
        }

        var generation: [String: JSONValue] = [:]
        if let maxTokens = request.requestedMaxTokens ?? defaultMaxTokens {
            generation["maxOutputTokens"] = .int(maxTokens)
        }
        if let temperature = request.temperature { generation["temperature"] = .double(temperature) }
        if let topP = request.topP { generation["topP"] = .double(topP) }
        if let stop = request.stop?.values, !stop.isEmpty {
            generation["stopSequences"] = .array(stop.map { .string($0) })
        }
        if let seed = request.extra["seed"]?.intValue { generation["seed"] = .int(seed) }
        if let penalty = request.extra["presence_penalty"]?.doubleValue {
            generation["presencePenalty"] = .double(penalty)
        }
        if let penalty = request.extra["frequency_penalty"]?.doubleValue {
            generation["frequencyPenalty"] = .double(penalty)
        }
        switch request.responseFormat?["type"]?.stringValue {
        case "json_object":
            generation["responseMimeType"] = "application/json"
        case "json_schema":
            generation["responseMimeType"] = "application/json"
            if let schema = request.responseFormat?["json_schema"]?["schema"] {
                generation["responseSchema"] = Self.schema(schema)
            }
        default:
            break
        }
        if !generation.isEmpty { body["generationConfig"] = .object(generation) }
        if let safetySettings, safetySettings != .null { body["safetySettings"] = safetySettings }
        return .object(body)
    }

    static func contentParts(_ content: MessageContent?, position: Int) throws -> [JSONValue] {
        switch content {
        case nil:
            return []
        case .text(let text):
            return text.isEmpty ? [] : [["text": .string(text)]]
        case .parts(let parts):
            var result: [JSONValue] = []
            for (index, part) in parts.enumerated() {
                let path = "messages[\(position)].content[\(index)]"
                switch part {
                case .text(let text):
                    if !text.isEmpty { result.append(["text": .string(text)]) }
                case .imageURL(let url, _):
                    result.append(try imagePart(url, path: path))
                case .other(let value):
                    let type = value["type"]?.stringValue ?? "unknown"
                    throw ProviderError(
                        .invalidRequest, message: "\(path): content part type '\(type)' is not supported by Gemini")
                }
            }
            return result
        }
    }

    static func imagePart(_ url: String, path: String) throws -> JSONValue {
        do {
            if let data = try DataURL.parse(url) {
                return ["inlineData": ["mimeType": .string(data.mediaType), "data": .string(data.base64)]]
            }
        } catch let error as ProviderError {
            throw ProviderError(.invalidRequest, message: "\(path): \(error.message)")
        }
        let lowered = url.lowercased()
        guard lowered.hasPrefix("https://") || lowered.hasPrefix("http://") || lowered.hasPrefix("gs://") else {
            throw ProviderError(.invalidRequest, message: "\(path): image URL must be https:// or a data: URL")
        }
        return ["fileData": ["mimeType": .string(imageMimeType(forURL: url)), "fileUri": .string(url)]]
    }

    /// The image MIME type suggested by a URL's file extension; `image/jpeg` when unknown.
    static func imageMimeType(forURL url: String) -> String {
        var path = Substring(url)
        if let cut = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<cut] }
        guard let dot = path.lastIndex(of: "."), !path[dot...].contains("/") else { return "image/jpeg" }
        switch path[path.index(after: dot)...].lowercased() {
        case "png": return "image/png"
        case "webp": return "image/webp"
        case "gif": return "image/gif"
        case "heic": return "image/heic"
        case "heif": return "image/heif"
        default: return "image/jpeg"
        }
    }

    /// `toolConfig.functionCallingConfig` for an OpenAI `tool_choice`, or `nil` when unset.
    static func functionCallingConfig(_ choice: JSONValue?) throws -> JSONValue? {
        guard let choice, choice != .null else { return nil }
        switch choice {
        case .string("auto"): return ["mode": "AUTO"]
        case .string("none"): return ["mode": "NONE"]
        case .string("required"), .string("any"): return ["mode": "ANY"]
        default:
            if choice["type"] == "function", let name = choice["function"]?["name"]?.stringValue {
                return ["mode": "ANY", "allowedFunctionNames": [.string(name)]]
            }
            throw ProviderError(
                .invalidRequest,
                message:
                    "tool_choice must be 'auto', 'none', 'required' or {\"type\":\"function\",\"function\":{\"name\":...}}"
            )
        }
    }

    /// Whether a parameters schema declares nothing (Gemini rejects an object type without properties).
    static func isEmptyObjectSchema(_ schema: JSONValue) -> Bool {
        guard let members = schema.objectValue else { return false }
        let properties = members["properties"]?.objectValue ?? [:]
        return properties.isEmpty
            && Set(members.keys).isSubset(of: ["type", "properties", "additionalProperties", "$schema", "required"])
    }

    /// A JSON Schema reduced to the OpenAPI subset Gemini accepts.
    static func schema(_ value: JSONValue) -> JSONValue {
        guard case .object(let members) = value else { return value }
        var result: [String: JSONValue] = [:]
        for (key, member) in members {
            switch key {
            case "additionalProperties", "$schema", "$id", "$comment":
                continue
            case "properties":
                if case .object(let properties) = member {
                    result[key] = .object(properties.mapValues(schema))
                } else {
                    result[key] = member
                }
            case "items":
                result[key] = schema(member)
            case "anyOf", "oneOf", "allOf":
                result[key] = .array((member.arrayValue ?? []).map(schema))
            case "type":
                if case .array(let types) = member {
                    let named = types.filter { $0 != "null" }
                    if named.count < types.count { result["nullable"] = true }
                    result[key] = named.first ?? "string"
                } else {
                    result[key] = member
                }
            default:
                result[key] = member
            }
        }
        return .object(result)
    }

    // MARK: - Response

    /// Translates a `generateContent` response body into a chat completion.
    ///
    /// Each candidate becomes a choice: its non-thought text parts joined, its
    /// `functionCall` parts as `tool_calls` (the call's own `id` when Gemini sends one, else
    /// `call_<n>`; arguments as JSON text), `finishReason` through
    /// ``finishReason(_:hasToolCalls:)``. Usage comes from `usageMetadata` through ``usage(_:)``.
    ///
    /// - Throws: ``ProviderError`` of class `.contentPolicy` when the prompt was blocked
    ///   (`promptFeedback.blockReason`, no candidates) or every candidate was stopped by a
    ///   safety filter before producing content; the classified error for an embedded
    ///   `error` object; `.unknown` for a body that is not a `GenerateContentResponse`.
    public func response(_ body: Data, requestedModel: String) throws -> ChatCompletion {
        let json = try WireJSON.decodeBody(body, vendor: "Gemini", what: "generateContent response")
        guard json.objectValue != nil else {
            throw WireJSON.malformed(vendor: "Gemini", "generateContent response is not a JSON object")
        }
        if let error = json["error"], error.objectValue != nil {
            throw Self.error(status: error["code"]?.intValue, errorObject: error, headers: HeaderFields([]), now: now())
        }
        let candidates = json["candidates"]?.arrayValue ?? []
        if candidates.isEmpty { throw Self.emptyResponseError(json) }

        var choices: [ChatCompletion.Choice] = []
        var blockedReasons: [String] = []
        var callNumber = 0
        for (position, candidate) in candidates.enumerated() {
            let extracted = try Self.extract(candidate, callNumber: &callNumber)
            let reason = candidate["finishReason"]?.stringValue
            let finish = Self.finishReason(reason, hasToolCalls: !extracted.calls.isEmpty)
            if extracted.isEmpty, finish == "content_filter", let reason { blockedReasons.append(reason) }
            let message = ChatMessage(
                role: "assistant", content: extracted.text.map { .text($0) },
                toolCalls: extracted.calls.isEmpty ? nil : extracted.calls)
            choices.append(
                .init(index: candidate["index"]?.intValue ?? position, message: message, finishReason: finish))
        }
        if blockedReasons.count == candidates.count, let reason = blockedReasons.first {
            throw ProviderError(
                .contentPolicy, message: "Gemini stopped the answer with finish reason \(reason) before any content",
                vendorCode: reason)
        }
        return ChatCompletion(
            id: json["responseId"]?.stringValue ?? "", created: Int(now().timeIntervalSince1970), model: requestedModel,
            choices: choices, usage: Self.usage(json["usageMetadata"]))
    }

    /// The error for a response without candidates: a blocked prompt or a malformed body.
    static func emptyResponseError(_ json: JSONValue) -> ProviderError {
        if let reason = json["promptFeedback"]?["blockReason"]?.stringValue {
            var message = "Gemini blocked the prompt (\(reason))"
            if let detail = json["promptFeedback"]?["blockReasonMessage"]?.stringValue { message += ": \(detail)" }
            return ProviderError(.contentPolicy, message: message, vendorCode: reason)
        }
        return WireJSON.malformed(vendor: "Gemini", "response has no candidates and no promptFeedback.blockReason")
    }

    /// Text and function calls of one candidate.
    struct Extracted {
        var text: String?
        var calls: [ToolCall]
        var isEmpty: Bool { (text ?? "").isEmpty && calls.isEmpty }
    }

    static func extract(_ candidate: JSONValue, callNumber: inout Int, indexed: Bool = false) throws -> Extracted {
        var texts: [String] = []
        var calls: [ToolCall] = []
        for part in candidate["content"]?["parts"]?.arrayValue ?? [] {
            // Thought summaries are reasoning, not answer text.
            if part["thought"] == true { continue }
            if let text = part["text"]?.stringValue { texts.append(text) }
            if let call = part["functionCall"] {
                guard let name = call["name"]?.stringValue else {
                    throw WireJSON.malformed(vendor: "Gemini", "functionCall part has no 'name'")
                }
                let id = call["id"]?.stringValue ?? "call_\(callNumber)"
                calls.append(
                    ToolCall(
                        index: indexed ? callNumber : nil, id: id,
                        function: .init(name: name, arguments: WireJSON.text(call["args"] ?? .object([:])))))
                callNumber += 1
            }
        }
        return Extracted(text: texts.isEmpty ? nil : texts.joined(), calls: calls)
    }

    /// The OpenAI `finish_reason` for a Gemini `finishReason`.
    ///
    /// `STOP` → `stop` (`tool_calls` when the candidate called a function), `MAX_TOKENS` →
    /// `length`, the policy stops (``policyFinishReasons``: `SAFETY`, `RECITATION`,
    /// `BLOCKLIST`, `PROHIBITED_CONTENT`, `SPII`, `IMAGE_SAFETY`, `IMAGE_PROHIBITED_CONTENT`,
    /// `IMAGE_RECITATION`) → `content_filter`; any other value lowercased.
    public static func finishReason(_ reason: String?, hasToolCalls: Bool) -> String? {
        switch reason {
        case nil: nil
        case "STOP": hasToolCalls ? "tool_calls" : "stop"
        case "MAX_TOKENS": "length"
        case let policy? where policyFinishReasons.contains(policy): "content_filter"
        case let other?: other.lowercased()
        }
    }

    /// The `finishReason` values of Gemini's `FinishReason` enum that mean a content filter
    /// stopped the answer; without any content before it, the answer is a content-policy error.
    public static let policyFinishReasons: Set<String> = [
        "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    ]

    /// OpenAI usage for a Gemini `usageMetadata` object.
    ///
    /// `promptTokenCount` (which already includes `cachedContentTokenCount`) plus
    /// `toolUsePromptTokenCount` → prompt tokens; `candidatesTokenCount` plus
    /// `thoughtsTokenCount` (thinking is billed as output) → completion tokens;
    /// `totalTokenCount` → total; `cachedContentTokenCount` → `cachedTokens`.
    public static func usage(_ metadata: JSONValue?) -> Usage? {
        guard let metadata, metadata.objectValue != nil else { return nil }
        func count(_ key: String) -> Int { Usage.count(metadata[key]?.intValue ?? 0) }
        let prompt = count("promptTokenCount") + count("toolUsePromptTokenCount")
        let completion = count("candidatesTokenCount") + count("thoughtsTokenCount")
        return Usage(
            promptTokens: prompt, completionTokens: completion,
            totalTokens: metadata["totalTokenCount"]?.intValue ?? prompt + completion,
            cachedTokens: metadata["cachedContentTokenCount"]?.intValue)
    }
}

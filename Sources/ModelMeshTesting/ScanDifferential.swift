import Foundation
import ModelMesh

// The reference for the OpenAI request scanner: Foundation's reading of the same bytes. Shared
// by the scanner's tests (on generated bodies) and the `openai-scan` fuzz target (on libFuzzer's).

/// Compares ``OpenAIRequestScan`` with `JSONSerialization` (is it JSON?) and `JSONDecoder`
/// (what do the fields say; the first of repeated members counts there too).
public enum ScanDifferential {
    /// What the comparison found: a summary of how the scanner read the body, and a
    /// disagreement with Foundation, if any.
    public struct Verdict: Sendable {
        public var summary: String
        public var failure: String?
    }

    public static func check(_ body: [UInt8]) -> Verdict {
        let scanned = Result { () throws(OpenAIScanError) in try OpenAIRequestScan.scan(body) }
        let foundation: Any
        do {
            foundation = try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
        } catch {
            if case .success = scanned {
                return Verdict(summary: "invalid JSON", failure: "scanner accepts invalid JSON")
            }
            return Verdict(summary: "invalid JSON")
        }
        // Stricter than Foundation on purpose: trailing commas and UTF-16/32 are not JSON for
        // an upstream that gets the bytes as they are.
        if hasTrailingComma(body) || mayBeWideEncoding(body) {
            if case .success = scanned {
                return Verdict(summary: "lenient", failure: "scanner accepts a trailing comma")
            }
            return Verdict(summary: "lenient")
        }
        let scan: OpenAIRequestScan
        switch scanned {
        case .success(let value): scan = value
        case .failure(let error):
            if error.kind == .malformedJSON {
                // JSONSerialization only converts the numbers it keeps: one too large for a double
                // passes when a repeated member replaces it. The scanner refuses it wherever it is.
                if isOutOfRangeNumber(body, at: error.offset) { return Verdict(summary: "invalid JSON") }
                return Verdict(summary: "invalid JSON", failure: "scanner refuses valid JSON: \(error)")
            }
            if error.kind == .notAnObject {
                return Verdict(
                    summary: "not an object",
                    failure: foundation is [String: Any] ? "scanner says not an object" : nil)
            }
            guard foundation is [String: Any] else {
                return Verdict(summary: "invalid field", failure: "field error on a non-object: \(error)")
            }
            do {
                let reference = try JSONDecoder().decode(ReferenceRequest.self, from: Data(body))
                // Past 2^53 JSONDecoder reads some decimals exactly; the request is refused either way.
                let caps = [reference.maxTokens, reference.maxCompletionTokens].compactMap { $0 }
                if let param = error.param, param.hasPrefix("max_"), caps.contains(where: { $0.magnitude >= 1 << 53 }) {
                    return Verdict(summary: "invalid field")
                }
                return Verdict(summary: "invalid field", failure: "scanner refuses (\(error)), JSONDecoder accepts")
            } catch {
                return Verdict(summary: "invalid field")
            }
        }
        guard let object = foundation as? [String: Any] else {
            return Verdict(summary: "not an object", failure: "scanner accepts a non-object")
        }
        let reference: ReferenceRequest
        do {
            reference = try JSONDecoder().decode(ReferenceRequest.self, from: Data(body))
        } catch {
            return Verdict(summary: "accepted", failure: "scanner accepts what JSONDecoder refuses: \(error)")
        }
        if let difference = reference.difference(from: scan) {
            return Verdict(summary: "accepted", failure: "fields differ: \(difference)")
        }
        if let failure = checkSplice(body, scan: scan, object: object) {
            return Verdict(summary: "accepted", failure: failure)
        }
        if let failure = checkPlain(body) {
            return Verdict(summary: "accepted", failure: failure)
        }
        return Verdict(summary: "accepted")
    }

    /// A plain request built from the scan equals the one `JSONDecoder` builds.
    public static func checkPlain(_ body: [UInt8]) -> String? {
        guard let plain = try? OpenAIRequestScan.scanRequest(body).plain else { return nil }
        do {
            let decoded = try JSONDecoder().decode(ChatCompletionRequest.self, from: Data(body))
            return decoded == plain ? nil : "the plain request differs: \(plain) ≠ JSONDecoder's \(decoded)"
        } catch {
            return "a plain request that JSONDecoder refuses: \(error)"
        }
    }

    /// The spliced body parses to the original object with `model` and
    /// `stream_options.include_usage` changed, and scans to the same fields.
    /// Whether `body` holds a U+FEFF, raw or escaped, anywhere (a key starting with one reads
    /// differently in JSONSerialization).
    static func keyMayStartWithBOM(_ body: [UInt8]) -> Bool {
        let text = String(decoding: body, as: UTF8.self).lowercased()
        return text.contains("\u{FEFF}") || text.contains("\\ufeff")
    }

    static func checkSplice(_ body: [UInt8], scan: OpenAIRequestScan, object: [String: Any]) -> String? {
        let newModel = "routed \"model\" \u{1F600}\n\\"
        let spliced: [UInt8]
        let renamed: [UInt8]
        do {
            spliced = try OpenAIRequestScan.splice(body, scan: scan, model: newModel, includeUsage: true)
            renamed = try OpenAIRequestScan.splice(body, scan: scan, model: newModel, includeUsage: false)
        } catch {
            return "splice throws: \(error)"
        }
        if !scan.hasRepeatedMembers {
            let encoded = OpenAIRequestScan.encodedJSONString(newModel)
            let expected = body[..<scan.modelValueRange.lowerBound] + encoded + body[scan.modelValueRange.upperBound...]
            if renamed != Array(expected) { return "renaming changes other bytes" }
        }
        // JSONSerialization drops a leading U+FEFF from a key ("\u{FEFF}model" becomes a second
        // `model`); JSONDecoder, the engine and other JSON readers keep it a key of its own. On such
        // a body the object JSONSerialization made is no reference for the splice.
        if keyMayStartWithBOM(body) { return nil }
        var expected = object
        expected["model"] = newModel
        var options = object["stream_options"] as? [String: Any] ?? [:]
        options["include_usage"] = true
        expected["stream_options"] = options
        guard let reparsed = try? JSONSerialization.jsonObject(with: Data(spliced)) as? [String: Any] else {
            return "spliced body does not parse: \(String(decoding: spliced, as: UTF8.self))"
        }
        // Compared as sorted JSON: Swift's `true` and Foundation's boolean NSNumber differ as objects.
        let canonical: ([String: Any]) -> Data? = {
            try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys])
        }
        guard let expectedJSON = canonical(expected), expectedJSON == canonical(reparsed) else {
            return "spliced body differs: \(String(decoding: spliced, as: UTF8.self))"
        }
        guard var rescan = try? OpenAIRequestScan.scan(spliced) else { return "spliced body does not scan" }
        if rescan.model != newModel || rescan.includeUsage != true || !rescan.hasStreamOptions {
            return
                "spliced body scans to model \(rescan.model), include_usage \(String(describing: rescan.includeUsage))"
        }
        rescan.model = scan.model
        rescan.modelValueRange = scan.modelValueRange
        rescan.closingBraceOffset = scan.closingBraceOffset
        rescan.includeUsage = scan.includeUsage
        rescan.hasStreamOptions = scan.hasStreamOptions
        if rescan != scan { return "splicing changes other scanned fields" }
        return nil
    }

    /// Whether the number at `offset` is one JSONSerialization refuses on its own.
    public static func isOutOfRangeNumber(_ body: [UInt8], at offset: Int) -> Bool {
        guard offset < body.count else { return false }
        let number = body[offset...].prefix { Array("+-.0123456789eE".utf8).contains($0) }
        guard !number.isEmpty else { return false }
        return (try? JSONSerialization.jsonObject(with: Data(number), options: [.fragmentsAllowed])) == nil
    }

    /// A `,` whose next significant byte closes an array or object (outside strings).
    static func hasTrailingComma(_ body: [UInt8]) -> Bool {
        var inString = false
        var escaped = false
        var afterComma = false
        for byte in body {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D: continue
            case UInt8(ascii: "]"), UInt8(ascii: "}"): if afterComma { return true }
            case UInt8(ascii: "\""): inString = true
            default: break
            }
            afterComma = byte == UInt8(ascii: ",")
        }
        return false
    }

    /// Foundation reads a body starting with a NUL byte or a UTF-16 byte order mark as UTF-16/32.
    static func mayBeWideEncoding(_ body: [UInt8]) -> Bool {
        body.prefix(4).contains(0) || body.starts(with: [0xFE, 0xFF]) || body.starts(with: [0xFF, 0xFE])
    }
}

/// The fields ``OpenAIRequestScan`` reads, decoded by `JSONDecoder` under the same rules.
struct ReferenceRequest: Decodable {
    var model: String
    var stream: Bool?
    var maxTokens: Int?
    var maxCompletionTokens: Int?
    var n: Double?
    var temperature: Double?
    var topP: Double?
    var hasTools = false
    var hasFunctions = false
    var hasToolChoice = false
    var hasResponseFormat = false
    var responseFormatType: String?
    var hasStreamOptions = false
    var includeUsage: Bool?
    var messageCount = 0
    var contentByteCount = 0
    var hasImageInput = false

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Any JSON value, by its kind.
    enum Shape: Decodable {
        case null
        case array(Int)
        case object, scalar

        init(from decoder: any Decoder) throws {
            if (try? decoder.singleValueContainer().decodeNil()) == true {
                self = .null
            } else if let array = try? decoder.unkeyedContainer() {
                self = .array(array.count ?? 0)
            } else if (try? decoder.container(keyedBy: Key.self)) != nil {
                self = .object
            } else {
                self = .scalar
            }
        }
    }

    struct Members: Decodable {
        let container: KeyedDecodingContainer<Key>
        init(from decoder: any Decoder) throws { container = try decoder.container(keyedBy: Key.self) }
        func string(_ key: String) -> String? { try? container.decodeIfPresent(String.self, forKey: Key(key)) }
        func bool(_ key: String) -> Bool? { try? container.decodeIfPresent(Bool.self, forKey: Key(key)) }
    }

    enum Content: Decodable {
        case text(String)
        case parts([Shape], [Members?])

        init(from decoder: any Decoder) throws {
            if let text = try? decoder.singleValueContainer().decode(String.self) {
                self = .text(text)
                return
            }
            var parts = try decoder.unkeyedContainer()
            var members: [Members?] = []
            var shapes: [Shape] = []
            while !parts.isAtEnd {
                let shape = try parts.decode(Shape.self)
                shapes.append(shape)
                members.append(nil)
            }
            parts = try decoder.unkeyedContainer()
            var index = 0
            while !parts.isAtEnd {
                if case .object = shapes[index] {
                    members[index] = try parts.decode(Members.self)
                } else {
                    _ = try parts.decode(Shape.self)
                }
                index += 1
            }
            self = .parts(shapes, members)
        }
    }

    struct Message: Decodable {
        var content: Content?
        init(from decoder: any Decoder) throws {
            content = try decoder.container(keyedBy: Key.self).decodeIfPresent(Content.self, forKey: Key("content"))
        }
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        model = try c.decode(String.self, forKey: Key("model"))
        stream = try c.decodeIfPresent(Bool.self, forKey: Key("stream"))
        maxTokens = try c.decodeIfPresent(Int.self, forKey: Key("max_tokens"))
        maxCompletionTokens = try c.decodeIfPresent(Int.self, forKey: Key("max_completion_tokens"))
        n = try c.decodeIfPresent(Double.self, forKey: Key("n"))
        temperature = try c.decodeIfPresent(Double.self, forKey: Key("temperature"))
        topP = try c.decodeIfPresent(Double.self, forKey: Key("top_p"))
        if case .array(let count)? = try c.decodeIfPresent(Shape.self, forKey: Key("tools")) { hasTools = count > 0 }
        hasFunctions = try Self.isPresent(c, "functions")
        hasToolChoice = try Self.isPresent(c, "tool_choice")
        hasResponseFormat = try Self.isPresent(c, "response_format")
        hasStreamOptions = try Self.isPresent(c, "stream_options")
        if case .object? = try c.decodeIfPresent(Shape.self, forKey: Key("response_format")) {
            responseFormatType = try c.decode(Members.self, forKey: Key("response_format")).string("type")
        }
        if case .object? = try c.decodeIfPresent(Shape.self, forKey: Key("stream_options")) {
            includeUsage = try c.decode(Members.self, forKey: Key("stream_options")).bool("include_usage")
        }
        let messages = try c.decodeIfPresent([Message].self, forKey: Key("messages")) ?? []
        messageCount = messages.count
        for message in messages {
            switch message.content {
            case .text(let text)?: contentByteCount += text.utf8.count
            case .parts(_, let members)?:
                for part in members.compactMap({ $0 }) {
                    switch part.string("type") {
                    case "text": contentByteCount += part.string("text")?.utf8.count ?? 0
                    case "image_url", "input_image": hasImageInput = true
                    default: break
                    }
                }
            case nil: break
            }
        }
    }

    static func isPresent(_ c: KeyedDecodingContainer<Key>, _ key: String) throws -> Bool {
        guard let shape = try c.decodeIfPresent(Shape.self, forKey: Key(key)) else { return false }
        if case .null = shape { return false }
        return true
    }

    func difference(from scan: OpenAIRequestScan) -> String? {
        let pairs: [(String, String, String)] = [
            ("model", model, scan.model),
            ("stream", "\(stream as Any)", "\(scan.stream as Any)"),
            ("max_tokens", "\(maxTokens as Any)", "\(scan.maxTokens as Any)"),
            ("max_completion_tokens", "\(maxCompletionTokens as Any)", "\(scan.maxCompletionTokens as Any)"),
            ("n", "\(n?.bitPattern as Any)", "\(scan.n?.bitPattern as Any)"),
            ("temperature", "\(temperature?.bitPattern as Any)", "\(scan.temperature?.bitPattern as Any)"),
            ("top_p", "\(topP?.bitPattern as Any)", "\(scan.topP?.bitPattern as Any)"),
            ("tools", "\(hasTools)", "\(scan.hasTools)"),
            ("functions", "\(hasFunctions)", "\(scan.hasFunctions)"),
            ("tool_choice", "\(hasToolChoice)", "\(scan.hasToolChoice)"),
            ("response_format", "\(hasResponseFormat)", "\(scan.hasResponseFormat)"),
            ("response_format.type", "\(responseFormatType as Any)", "\(scan.responseFormatType as Any)"),
            ("stream_options", "\(hasStreamOptions)", "\(scan.hasStreamOptions)"),
            ("include_usage", "\(includeUsage as Any)", "\(scan.includeUsage as Any)"),
            ("messages", "\(messageCount)", "\(scan.messageCount)"),
            ("content bytes", "\(contentByteCount)", "\(scan.contentByteCount)"),
            ("image", "\(hasImageInput)", "\(scan.hasImageInput)"),
        ]
        let different = pairs.filter { $0.1 != $0.2 }.map { "\($0.0): JSONDecoder \($0.1), scanner \($0.2)" }
        return different.isEmpty ? nil : different.joined(separator: "; ")
    }
}

import Foundation
import ModelMesh
import ModelMeshTesting
import Testing

@Suite("OpenAIRequestScan reads request bodies as Foundation does, without decoding them")
struct OpenAIRequestScanTests {
    func scan(_ text: String) throws(OpenAIScanError) -> OpenAIRequestScan {
        try OpenAIRequestScan.scan(Array(text.utf8))
    }

    func scanError(_ text: String) -> OpenAIScanError? {
        do {
            _ = try scan(text)
            return nil
        } catch {
            return error
        }
    }

    @Test("reads the interpreted members and skips the rest")
    func readsMembers() throws {
        let body = #"""
            {"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},
            {"role":"user","content":[{"type":"text","text":"héllo"},{"type":"image_url","image_url":{"url":"x"}}]}],
            "stream":true,"max_tokens":100,"max_completion_tokens":1e3,"n":2,"temperature":0.5,"top_p":1,
            "tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"auto",
            "response_format":{"type":"json_object"},"stream_options":{"include_usage":false},"seed":7}
            """#
        let scan = try scan(body)
        #expect(scan.model == "gpt-4o")
        #expect(scan.stream == true)
        #expect(scan.maxTokens == 100)
        #expect(scan.maxCompletionTokens == 1000)
        #expect(scan.n == 2)
        #expect(scan.temperature == 0.5)
        #expect(scan.topP == 1)
        #expect(scan.hasTools && scan.hasToolChoice && scan.hasResponseFormat && scan.hasStreamOptions)
        #expect(!scan.hasFunctions)
        #expect(scan.responseFormatType == "json_object")
        #expect(scan.includeUsage == false)
        #expect(scan.hasImageInput)
        #expect(scan.messageCount == 2)
        #expect(scan.contentByteCount == "Be brief.".utf8.count + "héllo".utf8.count)
        #expect(!scan.hasRepeatedMembers)
        let bytes = Array(body.utf8)
        #expect(String(decoding: bytes[scan.modelValueRange], as: UTF8.self) == #""gpt-4o""#)
        #expect(bytes[scan.closingBraceOffset] == UInt8(ascii: "}"))
        #expect(scan.closingBraceOffset == bytes.count - 1)
    }

    @Test("resolves escapes, surrogate pairs and escaped member names")
    func escapes() throws {
        let scan = try scan(
            #"{"\u006dodel":"a\"b\\c\/d\n\u00e9\ud83d\ude00\u0000","messages":[{"content":"\t\u4e2d"}]}"#)
        #expect(scan.model == "a\"b\\c/d\né😀\u{0}")
        #expect(scan.contentByteCount == 1 + 3)
        #expect(scanError(#"{"model":"\ud800"}"#)?.kind == .malformedJSON)
        #expect(scanError(#"{"model":"\udc00"}"#)?.kind == .malformedJSON)
        #expect(scanError(#"{"model":"\ud83d\u0041"}"#)?.kind == .malformedJSON)
        #expect(scanError(#"{"model":"\x"}"#)?.kind == .malformedJSON)
        #expect(scanError(#"{"model":"\u12G4"}"#)?.kind == .malformedJSON)
        #expect(scanError("{\"model\":\"a\tb\"}")?.kind == .malformedJSON)
        for bad: [UInt8] in [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]] {
            let body = Array(#"{"model":"a","x":""#.utf8) + bad + Array(#""}"#.utf8)
            #expect(throws: OpenAIScanError.self) { try OpenAIRequestScan.scan(body) }
        }
    }

    @Test("validates the whole document: nesting, trailing bytes, commas, numbers")
    func structure() throws {
        let deep = { (depth: Int) in
            #"{"model":"m","x":"# + String(repeating: "[", count: depth - 1) + String(repeating: "]", count: depth - 1)
                + "}"
        }
        #expect(scanError(deep(512)) == nil)
        #expect(scanError(deep(513))?.kind == .malformedJSON)
        #expect(scanError(deep(100_000))?.kind == .malformedJSON)
        #expect(scanError("\u{FEFF} \r\n{\"model\":\"m\"}\t\n") == nil)
        for bad in [
            #"{"model":"m"} x"#, #"{"model":"m"}{}"#, #"{"model":"m",}"#, #"{"model":"m","x":[1,]}"#,
            #"{"model":"m","x":01}"#, #"{"model":"m","x":1.}"#, #"{"model":"m","x":.5}"#, #"{"model":"m","x":-}"#,
            #"{"model":"m","x":1e}"#, #"{"model":"m","x":+1}"#, #"{"model":"m","x":1e400}"#,
            #"{"model":"m","x":1.7976931348623159e308}"#, #"{"model":"m","x":tru}"#, #"{"model":"m" "x":1}"#,
            #"{"model":"m","x":NaN}"#, "", "   ", "{", #"{"model""#,
        ] {
            #expect(scanError(bad)?.kind == .malformedJSON, "\(bad)")
        }
        #expect(scanError(#"{"model":"m","x":1.7976931348623158e308,"y":1e-400,"z":-0.0e999}"#) == nil)
        // JSONSerialization lets a number too large for a double through when a repeated member
        // replaces it (Fuzz/Regressions/openai-scan-replaced-huge-number); the scanner does not.
        let replaced = #"{"model":"m","x":2.8e308,"x":1}"#
        #expect((try? JSONSerialization.jsonObject(with: Data(replaced.utf8))) != nil)
        #expect(scanError(replaced)?.kind == .malformedJSON)
        #expect(throws: OpenAIScanError.self) { try OpenAIAnswerScan.scan(Array(replaced.utf8)) }
        // A key that starts with U+FEFF is its own key, as JSONDecoder reads it (JSONSerialization
        // drops the U+FEFF; Fuzz/Regressions/openai-scan-bom-prefixed-model-key): the model is
        // the real one, nothing is repeated, and a splice leaves the other key alone.
        let bom = Array(#"{"\u006dodel":"a","\uFEFFmodel":"b","max_tokens":1}"#.utf8)
        let bomScan = try OpenAIRequestScan.scan(bom)
        #expect(bomScan.model == "a")
        #expect(!bomScan.hasRepeatedMembers)
        #expect(bomScan.model == (try JSONDecoder().decode(ChatModelOnly.self, from: Data(bom))).model)
        let bomSpliced = try OpenAIRequestScan.splice(bom, scan: bomScan, model: "z", includeUsage: false)
        #expect(String(decoding: bomSpliced, as: UTF8.self) == #"{"\u006dodel":"z","\uFEFFmodel":"b","max_tokens":1}"#)
        #expect(scanError("[1,2]")?.kind == .notAnObject)
        #expect(scanError(#""model""#)?.kind == .notAnObject)
    }

    @Test("the first of repeated members counts, as JSONDecoder reads it")
    func repeatedMembers() throws {
        let body = #"{"model":"a","stream":false,"model":"b","stream":true,"messages":[]}"#
        let scan = try scan(body)
        let decoded = try JSONDecoder().decode(ChatCompletionRequest.self, from: Data(body.utf8))
        #expect(scan.model == decoded.model)
        #expect(scan.model == "a")
        #expect(scan.stream == false)
        #expect(scan.hasRepeatedMembers)
    }

    @Test(
        "output-token caps: the same numbers as ChatCompletionRequest",
        arguments: [
            "100", "-0", "0", "1e3", "1E2", "1.0", "10e-1", "-0.0", "1.5", "1e-400", "0.99999999999999999999",
            "9223372036854775807", "9223372036854775808", "-9223372036854775808", "1e19", "9.2e18",
            "12345678901234567e-1", "\"1\"", "true", "null", "[1]",
        ])
    func tokenCaps(literal: String) throws {
        for field in ["max_tokens", "max_completion_tokens"] {
            let body = #"{"model":"m","messages":[],"\#(field)":\#(literal)}"#
            let decoded = try? JSONDecoder().decode(ChatCompletionRequest.self, from: Data(body.utf8))
            let scanned = Result { () throws(OpenAIScanError) in try scan(body) }
            switch (decoded, scanned) {
            case (let decoded?, .success(let scan)):
                #expect(scan.maxTokens == decoded.maxTokens)
                #expect(scan.maxCompletionTokens == decoded.maxCompletionTokens)
            case (nil, .failure(let error)):
                #expect(error.param == field)
            case (let decoded?, .failure(let error)):
                // Past 2^53 JSONDecoder reads some decimals exactly; both then refuse the request.
                let value = decoded.maxTokens ?? decoded.maxCompletionTokens ?? 0
                #expect(error.param == field && value.magnitude >= 1 << 53, "\(body)")
            case (nil, .success):
                Issue.record("\(body): the scanner accepts what ChatCompletionRequest refuses")
            }
        }
    }

    @Test("a field of the wrong type is refused naming it")
    func fieldErrors() {
        let cases: [(String, String)] = [
            (#"{"messages":[]}"#, "model"), (#"{"model":1}"#, "model"), (#"{"model":null}"#, "model"),
            (#"{"model":"m","stream":1}"#, "stream"), (#"{"model":"m","max_tokens":2.5}"#, "max_tokens"),
            (#"{"model":"m","max_completion_tokens":"9"}"#, "max_completion_tokens"),
            (#"{"model":"m","temperature":"hot"}"#, "temperature"), (#"{"model":"m","top_p":1e-400}"#, "top_p"),
            (#"{"model":"m","n":[]}"#, "n"), (#"{"model":"m","messages":{}}"#, "messages"),
            (#"{"model":"m","messages":[{},3]}"#, "messages[1]"),
            (#"{"model":"m","messages":[{"content":7}]}"#, "messages[0].content"),
        ]
        for (body, param) in cases {
            let error = scanError(body)
            #expect(error?.kind == .invalidField && error?.param == param, "\(body): \(String(describing: error))")
        }
    }

    @Test("splicing replaces the model and adds usage, leaving every other byte")
    func splice() throws {
        let body =
            #"{ "model" : "small", "messages":[{"role":"user","content":"hi"}], "stream":true , "x":{"k":[1, 2.50]} }"#
        let bytes = Array(body.utf8)
        let scan = try OpenAIRequestScan.scan(bytes)
        let renamed = try OpenAIRequestScan.splice(bytes, scan: scan, model: "big \"one\"\n", includeUsage: false)
        #expect(
            String(decoding: renamed, as: UTF8.self)
                == #"{ "model" : "big \"one\"\n", "messages":[{"role":"user","content":"hi"}], "stream":true , "x":{"k":[1, 2.50]} }"#
        )
        let usage = try OpenAIRequestScan.splice(bytes, scan: scan, model: nil, includeUsage: true)
        #expect(
            String(decoding: usage, as: UTF8.self)
                == #"{ "model" : "small", "messages":[{"role":"user","content":"hi"}], "stream":true , "x":{"k":[1, 2.50]} ,"stream_options":{"include_usage":true}}"#
        )
        let cases: [(String, String)] = [
            (#"{"model":"m","stream_options":{}}"#, #"{"model":"n","stream_options":{"include_usage":true}}"#),
            (
                #"{"model":"m","stream_options":{"a":1}}"#,
                #"{"model":"n","stream_options":{"include_usage":true,"a":1}}"#
            ),
            (
                #"{"model":"m","stream_options":{"include_usage":false}}"#,
                #"{"model":"n","stream_options":{"include_usage":true}}"#
            ),
            (#"{"model":"m","stream_options":null}"#, #"{"model":"n","stream_options":{"include_usage":true}}"#),
            (
                #"{"model":"m","stream_options":{"include_usage":true,"include_usage":false}}"#,
                #"{"model":"n","stream_options":{"include_usage":true,"include_usage":true}}"#
            ),
            (#"{"model":"m","model":"x"}"#, #"{"model":"n","model":"n","stream_options":{"include_usage":true}}"#),
            (
                #"{"model":"m","stream_options":{"include_usage":true}}"#,
                #"{"model":"n","stream_options":{"include_usage":true}}"#
            ),
        ]
        for (input, expected) in cases {
            let bytes = Array(input.utf8)
            let spliced = try OpenAIRequestScan.splice(
                bytes, scan: try OpenAIRequestScan.scan(bytes), model: "n", includeUsage: true)
            #expect(String(decoding: spliced, as: UTF8.self) == expected)
        }
        let other = try OpenAIRequestScan.scan(Array(#"{"model":"a"}"#.utf8))
        #expect(throws: OpenAIScanError.self) {
            try OpenAIRequestScan.splice(Array(#"{"x":1}"#.utf8), scan: other, model: "n", includeUsage: false)
        }
    }

    @Test("answers and stream chunks: id, model, usage, finish reason")
    func answers() throws {
        let body = Array(
            #"{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":0}}}"#
                .utf8)
        let answer = try OpenAIAnswerScan.scan(body)
        #expect(answer.id == "chatcmpl-1")
        #expect(answer.model == "gpt-4o")
        var usage = OpenAIAnswerScan.Usage(promptTokens: 9, completionTokens: 2, totalTokens: 11)
        usage.cachedTokens = 0
        #expect(answer.usage == usage)
        #expect(answer.hasFinishReason && answer.finishReasons == ["stop"])
        #expect(answer.object == "chat.completion" && !answer.hasCreated && answer.hasChoicesArray)
        #expect(!answer.irregular && !answer.hasError)
        let modelRange = try #require(answer.modelValueRange)
        #expect(String(decoding: body[modelRange], as: UTF8.self) == #""gpt-4o""#)

        let chunk = try OpenAIAnswerScan.scanChunk(
            Array(
                #"{"id":"c","model":"m","choices":[{"delta":{"content":"x"},"finish_reason":null}],"usage":null}"#.utf8)
        )
        #expect(chunk.usage == nil && !chunk.hasFinishReason && chunk.id == "c")
        let last = try OpenAIAnswerScan.scanChunk(
            Array(#"{"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1.5}}"#.utf8))
        // 1.5 is no token count: read as absent, and the answer marked for decoding.
        #expect(last.usage?.promptTokens == 1 && last.usage?.completionTokens == nil)
        #expect(last.irregular)
        #expect(last.model == nil)
        let odd = try OpenAIAnswerScan.scan(
            Array(
                #"{"id":"a","created":1,"choices":[{"finish_reason":7},{"finish_reason":"length"}],"error":{"message":"x"},"usage":{"cache_creation_input_tokens":4,"prompt_tokens_details":null}}"#
                    .utf8))
        #expect(odd.irregular && odd.hasError && odd.hasCreated && odd.finishReasons == ["length"])
        #expect(odd.usage?.cacheWriteTokens == 4 && odd.usage?.cachedTokens == nil)
        #expect(try OpenAIAnswerScan.scan(Array(#"{"usage":"many"}"#.utf8)).irregular)
        #expect(throws: OpenAIScanError.self) { try OpenAIAnswerScan.scanChunk(Array(#"{"id":"c",}"#.utf8)) }
        #expect(throws: OpenAIScanError.self) { try OpenAIAnswerScan.scanChunk(Array("[DONE]".utf8)) }
    }

    @Test("differential: the scanner agrees with JSONSerialization and JSONDecoder on generated bodies")
    func differential() throws {
        var generator = RequestBodyGenerator(seed: 0x5EED_CAFE)
        var verdicts: [String: Int] = [:]
        for round in 0..<3000 {
            var body = generator.request()
            if round % 5 >= 3 { body = generator.mutate(body) }
            let verdict = ScanDifferential.check(body)
            verdicts[verdict.summary, default: 0] += 1
            if let failure = verdict.failure {
                Issue.record("round \(round): \(failure)\n body: \(String(decoding: body, as: UTF8.self))")
                return
            }
        }
        // The generator must reach every verdict, or the comparison proves little.
        for summary in ["accepted", "invalid JSON", "invalid field", "not an object"] {
            #expect(verdicts[summary, default: 0] > 10, "\(summary): \(verdicts)")
        }
    }
}

extension OpenAIRequestScanTests {
    @Test("a plain request is built from the scan; anything more is left to JSONDecoder")
    func plainRequests() throws {
        func plain(_ text: String) throws -> ChatCompletionRequest? {
            try OpenAIRequestScan.scanRequest(Array(text.utf8)).plain
        }
        let built = try #require(
            try plain(
                #"{"model":"chat","messages":[{"role":"system","content":"Be brief"},{"role":"user","content":"Say h\u00e9llo","name":"ann"},"#
                    + #"{"role":"assistant","content":null}],"max_tokens":16,"max_completion_tokens":1e1,"temperature":0.5,"#
                    + #""top_p":1,"stream":true,"stream_options":{"include_usage":true},"user":"u-1"}"#))
        #expect(built.model == "chat")
        #expect(built.messages == [.system("Be brief"), ChatMessage(role: "user", content: .text("Say héllo"), name: "ann"),
            ChatMessage(role: "assistant", content: nil)])
        #expect(built.maxTokens == 16 && built.maxCompletionTokens == 10 && built.temperature == 0.5 && built.topP == 1)
        #expect(built.stream == true && built.user == "u-1")
        #expect(built.streamOptions == .object(["include_usage": .bool(true)]))
        #expect(built.extra.isEmpty)

        let notPlain = [
            #"{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[]}"#,
            #"{"model":"m","messages":[{"role":"user","content":"x"}],"seed":1}"#,
            #"{"model":"m","messages":[{"role":"user","content":"x"}],"n":1}"#,
            #"{"model":"m","messages":[{"role":"user","content":"x"}],"user":5}"#,
            #"{"model":"m","messages":[{"role":"user","content":"x"}],"user":"a","user":"b"}"#,
            #"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream":false}"#,
            #"{"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true,"x":1}}"#,
            #"{"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":null}"#,
            #"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}"#,
            #"{"model":"m","messages":[{"role":"user","content":"x","content":"y"}]}"#,
            #"{"model":"m","messages":[{"role":"tool","content":"x","tool_call_id":"c1"}]}"#,
            #"{"model":"m","messages":[{"content":"x"}]}"#,
            #"{"model":"m","messages":[{"role":7,"content":"x"}]}"#,
            #"{"model":"m","messages":null}"#,
            #"{"model":"m"}"#,
        ]
        for body in notPlain {
            #expect(try plain(body) == nil, "\(body)")
        }
    }

    @Test("differential: plain requests built from the scan equal JSONDecoder's")
    func plainDifferential() throws {
        var generator = RequestBodyGenerator(seed: 0x91A1_D0C5)
        var plainCount = 0
        for round in 0..<2000 {
            var body = generator.plainRequest()
            if round % 5 == 4 { body = generator.mutate(body) }
            if let failure = ScanDifferential.checkPlain(body) {
                Issue.record("round \(round): \(failure)\n body: \(String(decoding: body, as: UTF8.self))")
                return
            }
            if (try? OpenAIRequestScan.scanRequest(body).plain) != nil { plainCount += 1 }
        }
        // Most generated bodies are plain, or the comparison proves little.
        #expect(plainCount > 400, "\(plainCount) plain bodies")
    }
}

/// Seeded request bodies: valid ones in many shapes, and mutations of them.
struct RequestBodyGenerator {
    /// SplitMix64: reproducible from the seed on every platform.
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    static let numbers = [
        "0", "-0", "1", "2", "42", "100", "1e3", "1E2", "1.0", "1.5", "-1", "0.5", "2.5e-3", "10e-1", "-0.0",
        "1e400", "1e-400", "1e308", "1.7976931348623158e308", "9223372036854775807", "9223372036854775808",
        "-9223372036854775808", "4611686018427387905.0", "9007199254740993.5", "123456789012345678901",
        "0.99999999999999999999", "1e-0", "0.000", "3e-324", "2e-324", "0e999999", "1.00000000000000000001",
    ]
    static let stringPieces = [
        "a", "gpt-4o", " ", "é", "中", "😀", #"\""#, #"\\"#, #"\/"#, #"\b"#, #"\f"#, #"\n"#, #"\r"#, #"\t"#,
        #"\u00e9"#, #"\u0041"#, #"\ud83d\ude00"#, #"\u0000"#, #"\u4E2D"#, "text", "image_url",
    ]

    mutating func whitespace() -> String { chance(80) ? "" : pick([" ", "\n", "\t", "\r\n  "]) }

    mutating func string() -> String {
        var text = "\""
        for _ in 0..<below(6) { text += pick(Self.stringPieces) }
        return text + "\""
    }

    mutating func value(depth: Int) -> String {
        switch below(depth > 3 ? 5 : 8) {
        case 0: return "null"
        case 1: return pick(["true", "false"])
        case 2, 3: return pick(Self.numbers)
        case 4: return string()
        case 5:
            return "[" + (0..<below(4)).map { _ in whitespace() + value(depth: depth + 1) }.joined(separator: ",") + "]"
        default:
            return "{" + (0..<below(4)).map { _ in string() + ":" + value(depth: depth + 1) }.joined(separator: ",")
                + "}"
        }
    }

    mutating func key(_ name: String) -> String {
        guard chance(3), let first = name.unicodeScalars.first else { return "\"\(name)\"" }
        let escaped = String(first.value, radix: 16)
        return "\"\\u" + String(repeating: "0", count: 4 - escaped.count) + escaped + name.dropFirst() + "\""
    }

    mutating func contentPart() -> String {
        switch below(6) {
        case 0: return #"{"type":"text","text":"# + string() + "}"
        case 1: return #"{"type":"image_url","image_url":{"url":"https://x"}}"#
        case 2: return #"{"type":"input_image","image_url":"x"}"#
        case 3: return #"{"text":"# + string() + #","type":"text","text":"shadowed"}"#
        case 4: return #"{"type":5,"text":"x"}"#
        default: return value(depth: 2)
        }
    }

    mutating func message() -> String {
        var members = [#""role":"# + pick([#""user""#, #""system""#, #""assistant""#])]
        switch below(7) {
        case 0, 1: members.append(#""content":"# + string())
        case 2: members.append(#""content":null"#)
        case 3, 4:
            members.append(#""content":["# + (0..<below(4)).map { _ in contentPart() }.joined(separator: ",") + "]")
        case 5: members.append(#""content":"# + pick(["7", "{}", "true"]))
        default: break
        }
        if chance(5) { members.append(#""content":"second""#) }
        if chance(20) { members.append(#""name":"# + string()) }
        return "{" + members.shuffled(using: &self).joined(separator: ",") + "}"
    }

    mutating func member(_ name: String) -> String {
        let value: String
        switch name {
        case "model": value = chance(95) ? string() : pick(["1", "null", "[]"])
        case "stream": value = chance(90) ? pick(["true", "false", "null"]) : pick(["1", "\"yes\""])
        case "max_tokens", "max_completion_tokens", "n", "temperature", "top_p":
            value = chance(90) ? pick(Self.numbers + ["null"]) : pick(["\"1\"", "true", "[]"])
        case "messages":
            value =
                chance(92)
                ? "[" + (0..<below(4)).map { _ in message() }.joined(separator: ",") + "]"
                : pick(["null", "{}", "[1]", "\"hi\""])
        case "tools": value = pick(["[]", #"[{"type":"function"}]"#, "null", "{}", "[ ]", "\"x\""])
        case "response_format":
            value = pick([
                #"{"type":"json_object"}"#, #"{"type":5}"#, "null", "\"x\"", "{}", #"{"type":"a","type":"b"}"#,
            ])
        case "stream_options":
            value = pick([
                #"{"include_usage":true}"#, #"{"include_usage":false}"#, "{}", "null", #"{"include_usage":"x"}"#,
                "3", #"{"a":[1],"include_usage":false,"include_usage":true}"#,
                #"{"include_usage":true,"include_usage":0}"#,
            ])
        default: value = self.value(depth: 1)
        }
        return key(name) + whitespace() + ":" + whitespace() + value
    }

    /// A request body, or now and then another JSON value.
    mutating func request() -> [UInt8] {
        if chance(2) { return Array(value(depth: 0).utf8) }
        let names = [
            "model", "messages", "stream", "max_tokens", "max_completion_tokens", "n", "temperature", "top_p", "tools",
            "functions", "tool_choice", "response_format", "stream_options", "seed", "user", "metadata",
        ]
        var members: [String] = []
        for name in names where name == "model" ? chance(97) : chance(name == "messages" ? 90 : 35) {
            members.append(member(name))
            if chance(3) { members.append(member(name)) }
        }
        members.shuffle(using: &self)
        let text = whitespace() + "{" + members.map { whitespace() + $0 }.joined(separator: ",") + whitespace() + "}"
        return Array(text.utf8) + (chance(3) ? Array(pick([" ", "\n", "x", "}", ","]).utf8) : [])
    }

    /// A body with only the members a plain request may hold (see
    /// `OpenAIRequestScan.scanRequest`), now and then one too many or of another type.
    mutating func plainRequest() -> [UInt8] {
        let names = [
            "model", "messages", "stream", "max_tokens", "max_completion_tokens", "temperature", "top_p", "user",
            "stream_options",
        ]
        var members: [String] = []
        for name in names where name == "model" || name == "messages" ? chance(98) : chance(35) {
            if name == "user" {
                members.append(key(name) + ":" + (chance(90) ? string() : value(depth: 1)))
            } else if name == "messages" {
                let messages = (0..<(1 + below(3))).map { _ in
                    chance(80)
                        ? "{" + [#""role":"# + string(), #""content":"# + (chance(85) ? string() : "null")]
                            .shuffled(using: &self).joined(separator: ",")
                            + (chance(15) ? #","name":"# + string() : "") + "}"
                        : message()
                }
                members.append(key(name) + ":[" + messages.joined(separator: ",") + "]")
            } else {
                members.append(member(name))
            }
            if chance(2) { members.append(member(name)) }
        }
        members.shuffle(using: &self)
        return Array(("{" + members.map { whitespace() + $0 }.joined(separator: ",") + whitespace() + "}").utf8)
    }

    static let mutationBytes: [UInt8] =
        Array(#"{}[],:"\0123456789eE.-+tfnu /"#.utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xED, 0xFF]

    /// One to three random edits: replace, insert or delete a byte, cut the end, repeat a slice.
    mutating func mutate(_ body: [UInt8]) -> [UInt8] {
        var body = body
        for _ in 0..<(1 + below(3)) {
            guard !body.isEmpty else { break }
            let at = below(body.count)
            switch below(5) {
            case 0: body[at] = pick(Self.mutationBytes)
            case 1: body.insert(pick(Self.mutationBytes), at: at)
            case 2: body.remove(at: at)
            case 3: body.removeSubrange(at...)
            default:
                let end = min(body.count, at + 1 + below(8))
                body.insert(contentsOf: body[at..<end], at: at)
            }
        }
        return body
    }
}

extension RequestBodyGenerator: RandomNumberGenerator {}

/// Only the `model` member, as `JSONDecoder` reads it.
private struct ChatModelOnly: Decodable {
    let model: String
}

extension OpenAIRequestScanTests {
    static func plainChunk(_ text: String) -> ChatCompletionChunk? {
        Array(text.utf8).withUnsafeBytes(OpenAIAnswerScan.plainChunk)
    }

    @Test("a plain stream chunk is built from a scan; anything more is left to JSONDecoder")
    func plainChunks() throws {
        let chunk = try #require(
            Self.plainChunk(
                #"{"id":"c-1","object":"chat.completion.chunk","created":1700000000,"model":"m","system_fingerprint":"fp","#
                    + #""choices":[{"index":0,"delta":{"role":"assistant","content":"h\u00e9","refusal":null},"logprobs":null,"#
                    + #""finish_reason":null},{"index":1,"delta":{},"finish_reason":"stop"}],"#
                    + #""usage":{"prompt_tokens":9,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":4}}}"#))
        #expect(chunk.id == "c-1" && chunk.object == "chat.completion.chunk" && chunk.created == 1_700_000_000)
        #expect(chunk.model == "m")
        #expect(chunk.choices == [
            .init(index: 0, delta: .init(role: "assistant", content: "hé")),
            .init(index: 1, delta: .init(), finishReason: "stop"),
        ])
        #expect(chunk.usage == Usage(promptTokens: 9, completionTokens: 2, totalTokens: 11, cachedTokens: 4))

        let base = #""id":"c","object":"o","created":1,"model":"m""#
        let notPlain = [
            "{" + base + #","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}"#,
            "{" + base + #","choices":[{"index":0.0,"delta":{}}]}"#,
            "{" + base + #","choices":[{"index":0}]}"#,
            "{" + base + #","choices":[{"index":0,"delta":{"content":5}}]}"#,
            "{" + base + #","choices":[{"index":0,"delta":{"content":"a","content":"b"}}]}"#,
            "{" + base + #","choices":[],"usage":{"prompt_tokens":1.0}}"#,
            "{" + base + #","choices":[],"usage":5}"#,
            "{" + base + #","choices":[],"id":"again"}"#,
            "{" + base + "}",
            #"{"object":"o","created":1,"model":"m","choices":[]}"#,
            "{" + base + #","choices":[]} x"#,
            #"{"error":{"message":"overloaded"}}"#,
        ]
        for text in notPlain {
            #expect(Self.plainChunk(text) == nil, "\(text)")
        }
    }

    @Test("differential: plain stream chunks built from a scan equal JSONDecoder's")
    func plainChunkDifferential() throws {
        var generator = RequestBodyGenerator(seed: 0xC0FF_EE11)
        var plainCount = 0
        for round in 0..<2000 {
            var body = generator.chunk()
            if round % 5 == 4 { body = generator.mutate(body) }
            guard let plain = body.withUnsafeBytes(OpenAIAnswerScan.plainChunk) else { continue }
            plainCount += 1
            let text = String(decoding: body, as: UTF8.self)
            do {
                let decoded = try JSONDecoder().decode(ChatCompletionChunk.self, from: Data(body))
                #expect(decoded == plain, "round \(round): \(text)")
                if decoded != plain { return }
            } catch {
                Issue.record("round \(round): a plain chunk that JSONDecoder refuses (\(error)): \(text)")
                return
            }
        }
        #expect(plainCount > 500, "\(plainCount) plain chunks")
    }
}

extension RequestBodyGenerator {
    /// A streamed chunk's JSON: mostly the usual members, now and then one of another type,
    /// repeated, missing, or a member the chunk type does not model.
    mutating func chunk() -> [UInt8] {
        func optionalString() -> String { chance(85) ? string() : pick(["null", "1", "[]"]) }
        var members: [String] = []
        if chance(97) { members.append(key("id") + ":" + (chance(95) ? string() : "null")) }
        if chance(97) { members.append(key("object") + ":" + (chance(95) ? string() : "7")) }
        if chance(97) { members.append(key("created") + ":" + (chance(90) ? String(below(2_000_000_000)) : pick(Self.numbers))) }
        if chance(97) { members.append(key("model") + ":" + (chance(95) ? string() : "null")) }
        if chance(95) {
            let choices = (0..<below(3)).map { position -> String in
                var choice: [String] = []
                if chance(97) { choice.append(#""index":"# + (chance(95) ? String(position) : pick(Self.numbers))) }
                if chance(97) {
                    var delta: [String] = []
                    if chance(40) { delta.append(#""role":"# + optionalString()) }
                    if chance(80) { delta.append(key("content") + ":" + optionalString()) }
                    if chance(5) { delta.append(#""tool_calls":"# + pick(["null", #"[{"index":0,"function":{"arguments":"x"}}]"#])) }
                    if chance(10) { delta.append(#""refusal":"# + value(depth: 2)) }
                    if chance(3) { delta.append(#""content":"again""#) }
                    choice.append(#""delta":{"# + delta.shuffled(using: &self).joined(separator: ",") + "}")
                }
                if chance(80) { choice.append(#""finish_reason":"# + (chance(70) ? "null" : optionalString())) }
                if chance(20) { choice.append(#""logprobs":"# + value(depth: 2)) }
                return "{" + choice.shuffled(using: &self).joined(separator: ",") + "}"
            }
            members.append(#""choices":["# + choices.joined(separator: ",") + "]")
        }
        if chance(30) {
            let usage = chance(20) ? "null" : "{" + [
                #""prompt_tokens":"# + (chance(90) ? String(below(100_000)) : pick(Self.numbers + ["null"])),
                #""completion_tokens":"# + String(below(1000)),
                chance(50) ? #""total_tokens":"# + String(below(100_000)) : nil,
                chance(20) ? #""prompt_tokens_details":"# + pick([#"{"cached_tokens":3}"#, "null", "{}", "5", #"{"cached_tokens":null}"#]) : nil,
                chance(10) ? #""cache_creation_input_tokens":7"# : nil,
            ].compactMap { $0 }.shuffled(using: &self).joined(separator: ",") + "}"
            members.append(#""usage":"# + usage)
        }
        if chance(20) { members.append(#""system_fingerprint":"# + value(depth: 1)) }
        if chance(3), let repeated = members.first { members.append(repeated) }
        members.shuffle(using: &self)
        return Array(("{" + members.map { whitespace() + $0 }.joined(separator: ",") + whitespace() + "}").utf8)
    }
}

import AsyncHTTPClient
import Foundation
import ModelMesh
import ModelMeshServer
import ModelMeshTesting
import NIOCore
import Testing

@Suite("Bad request fields are 400s before any upstream call", .timeLimit(.minutes(1)))
struct RequestValidationProxyTests {
    static func body(_ members: String, messages: String = #"[{"role": "user", "content": "hi"}]"#) -> String {
        #"{"model": "chat", "messages": \#(messages)\#(members.isEmpty ? "" : ", " + members)}"#
    }

    /// (request body, expected `param`, a word the message must contain)
    static let cases: [(String, String, String)] = [
        (body(#""max_tokens": 0"#), "max_tokens", "between 1 and"),
        (body(#""max_tokens": -3"#), "max_tokens", "between 1 and"),
        (body(#""max_completion_tokens": 0"#), "max_completion_tokens", "between 1 and"),
        (body(#""max_tokens": 1e30"#), "max_tokens", "whole number"),
        (body(#""max_tokens": 9223372036854775807"#), "max_tokens", "between 1 and"),
        (body(#""max_completion_tokens": 99999999999999999999999"#), "max_completion_tokens", "whole number"),
        (body(#""n": 0"#), "n", "at least 1"),
        (body(#""n": "two""#), "n", "at least 1"),
        (body(#""temperature": 2.01"#), "temperature", "between 0 and 2"),
        (body(#""temperature": -1"#), "temperature", "between 0 and 2"),
        (body(#""top_p": 1.5"#), "top_p", "between 0 and 1"),
        (body(#""top_p": -0.5"#), "top_p", "between 0 and 1"),
        (
            body(
                "",
                messages: #"[{"role": "system", "content": "s"}, {"role": "user", "content": "u"}, "#
                    + #"{"role": "robot", "content": "r"}]"#),
            "messages[2].role", "use one of system, developer, user, assistant, tool"
        ),
        (
            body("", messages: #"[{"role": "user", "content": "u"}, {"role": "tool", "content": "42"}]"#),
            "messages[1].tool_call_id", "tool_call_id"
        ),
    ]

    @Test("Each bad field is a 400 naming it, and the upstream receives nothing", arguments: cases)
    func refused(_ body: String, _ param: String, _ words: String) async throws {
        let alpha = MockProvider()
        try await withProxy(twoModels(alpha)) { client in
            for stream in [false, true] {
                let sent =
                    stream
                    ? body.replacingOccurrences(of: #""model": "chat""#, with: #""model": "chat", "stream": true"#)
                    : body
                let response = try await client.send(.POST, "/v1/chat/completions", body: sent)
                #expect(response.status == 400, "\(sent): \(response.body)")
                let error = try #require(response.json["error"], "\(response.body)")
                #expect(error["type"]?.stringValue == "invalid_request_error")
                #expect(error["param"]?.stringValue == param, "\(response.body)")
                let message = try #require(error["message"]?.stringValue)
                #expect(message.contains(words), "\(message)")
                #expect(message.contains(param) || message.contains("messages[1]"), "\(message)")
            }
            #expect(alpha.callCount == 0)
        }
    }

    @Test("Fields in range, legacy roles and unknown members reach the upstream unchanged")
    func accepted() async throws {
        let alpha = MockProvider()
        try await withProxy(twoModels(alpha)) { client in
            let response = try await client.send(
                .POST, "/v1/chat/completions",
                body: Self.body(
                    #""max_tokens": 1, "temperature": 0, "top_p": 1, "n": 2, "seed": 7, "x_vendor": {"a": [1]}"#,
                    messages:
                        #"[{"role": "developer", "content": "d"}, {"role": "function", "name": "f", "content": "1"}, "#
                        + #"{"role": "tool", "tool_call_id": "call_1", "content": "2"}]"#))
            #expect(response.status == 200, "\(response.body)")
            let request = try #require(alpha.calls.first?.request)
            #expect(request.extra["n"] == 2)
            #expect(request.extra["seed"] == 7)
            #expect(request.extra["x_vendor"] == ["a": [1]])
        }
    }

    @Test("A body that is not UTF-8 is a clean 400 saying so")
    func invalidUTF8() async throws {
        let alpha = MockProvider()
        try await withProxy(twoModels(alpha)) { client in
            let bodies: [[UInt8]] = [
                Array(#"{"model": "chat", "messages": [{"role": "user", "content": ""#.utf8) + [0xC3, 0x28]
                    + Array(#""}]}"#.utf8),
                [0xFF, 0xFE, 0x7B, 0x00, 0x7D, 0x00],
                Array(#"{"model": "chat", "messages": [{"role": "user", "content": "hi"#.utf8) + [0xED, 0xA0, 0x80]
                    + Array(#""}]}"#.utf8),
                Array(#"{"model": "chat", "messages": [{"role": "user", "content": "cut "#.utf8) + [0xE2, 0x82],
            ]
            for bytes in bodies {
                for path in ["/v1/chat/completions", "/v1/embeddings"] {
                    var request = client.makeRequest(.POST, path)
                    request.headers.add(name: "content-type", value: "application/json")
                    request.body = .bytes(ByteBuffer(bytes: bytes))
                    let response = try await client.send(request)
                    #expect(response.status == 400, "\(bytes): \(response.body)")
                    let error = try #require(response.json["error"], "\(response.body)")
                    #expect(error["type"]?.stringValue == "invalid_request_error")
                    #expect(error["message"]?.stringValue?.contains("not valid UTF-8") == true, "\(response.body)")
                }
            }
            #expect(alpha.callCount == 0)
            // Real UTF-8 beyond ASCII is fine.
            let accented = try await client.chat("chat", "héllo wörld ✓")
            #expect(accented.status == 200)
        }
    }
}

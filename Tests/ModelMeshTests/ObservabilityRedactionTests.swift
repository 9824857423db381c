import Foundation
import Testing

@testable import ModelMesh

@Suite struct RequestLogRedactorTests {
    private func entry(prompt: String?, response: String?, error: String? = nil) -> RequestLogEntry {
        RequestLogEntry(
            requestID: "r1", timestamp: Date(), poolID: "chat", modelID: "a", status: 200, latencyMs: 12,
            tokensIn: 3, tokensOut: 4, error: error, prompt: prompt, response: response)
    }

    @Test func metadataLevelDropsPayloads() {
        let redacted = RequestLogRedactor(level: .metadata).redact(entry(prompt: "hello", response: "world"))
        #expect(redacted.prompt == nil && redacted.response == nil)
        #expect(redacted.tokensIn == 3 && redacted.latencyMs == 12 && redacted.requestID == "r1")
    }

    @Test func summaryLevelTruncates() {
        let long = String(repeating: "x", count: 500)
        let redacted = RequestLogRedactor(level: .summary).redact(entry(prompt: long, response: "short"))
        #expect(redacted.prompt == String(repeating: "x", count: 200) + "…")
        #expect(redacted.response == "short")
        let custom = RequestLogRedactor(level: .summary, summaryLength: 3).redact(entry(prompt: "abcdef", response: nil))
        #expect(custom.prompt == "abc…")
    }

    @Test func fullLevelKeepsPayloads() {
        let long = String(repeating: "y", count: 5000)
        let redacted = RequestLogRedactor(level: .full).redact(entry(prompt: long, response: long))
        #expect(redacted.prompt == long && redacted.response == long)
    }

    @Test func masksSecretsInText() {
        let redactor = RequestLogRedactor(level: .full, knownSecrets: ["hunter2-secret-value", "abc"])
        let cases: [(String, String)] = [
            ("Authorization: Bearer abcdefghijklmnop123", "Authorization: Bearer ***"),
            ("authorization: bearer eyJhbGciOi.J9.xyz", "authorization: bearer ***"),
            ("key sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX1234 leaked", "key *** leaked"),
            ("groq gsk_abcdefghijklmnopqrstuv", "groq ***"),
            ("x-api-key: abc123secret", "x-api-key: ***"),
            ("GET /v1?api_key=XYZ123&x=1", "GET /v1?api_key=***&x=1"),
            (#"{"api_key": "zzz999", "model": "a"}"#, #"{"api_key": "***", "model": "a"}"#),
            ("password=letmein", "password=***"),
            ("my key is hunter2-secret-value, really", "my key is ***, really"),
            ("Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic ***"),
            ("a basic understanding", "a basic understanding"),
            ("the bearer of bad news", "the bearer of bad news"),
            ("tokens_in=5 abc", "tokens_in=5 abc"),
            ("sk-learn is a library", "sk-learn is a library"),
        ]
        for (input, expected) in cases {
            #expect(redactor.mask(input) == expected, "\(input)")
        }
    }

    @Test func redactsPromptResponseAndErrorUnlessDisabled() {
        let secret = "Bearer abcdefghijklmnopqrstuvwxyz"
        let raw = entry(prompt: "use \(secret)", response: "ok \(secret)", error: "upstream said \(secret)")
        let redacted = RequestLogRedactor(level: .full).redact(raw)
        #expect(redacted.prompt == "use Bearer ***")
        #expect(redacted.response == "ok Bearer ***")
        #expect(redacted.error == "upstream said Bearer ***")
        let summary = RequestLogRedactor(level: .summary, summaryLength: 10).redact(raw)
        #expect(summary.prompt == "use Bearer…")
        let metadata = RequestLogRedactor(level: .metadata).redact(raw)
        #expect(metadata.error == "upstream said Bearer ***")
        let off = RequestLogRedactor(level: .full, redactSecrets: false).redact(raw)
        #expect(off == raw)
    }

    @Test func followsTheConfiguration() {
        var configuration = ObservabilityConfiguration()
        configuration.logLevel = .summary
        configuration.redactSecrets = false
        let redactor = RequestLogRedactor(configuration: configuration, knownSecrets: ["topsecret"])
        #expect(redactor.level == .summary)
        #expect(redactor.mask("topsecret") == "topsecret")
    }
}

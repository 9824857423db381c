import Foundation
import ModelMesh
import NIOHTTP1
import Testing

@testable import ModelMeshProviders

/// Numbers an upstream controls (headers, error details, usage) that once trapped a
/// conversion and would have taken the proxy down. Each case came from the fuzz targets.
@Suite("Hostile upstream values")
struct HostileUpstreamValuesTests {
    let now = Date(timeIntervalSince1970: 1_768_478_400)
    let century = Duration.seconds(3_155_760_000)

    @Test(
        "Retry-After beyond any sense is a century, never a crash",
        arguments: [
            ("retry-after", "10000000000"), ("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT"),
            ("retry-after-ms", "1e19"), ("retry-after", "1e300"),
        ])
    func retryAfter(name: String, value: String) throws {
        let wait = try #require(RateLimitHeaders.retryAfter([name: value], now: now))
        #expect(wait > .seconds(86_400 * 365))
        #expect(wait <= century)
    }

    @Test("A reset of three million hours in x-ratelimit-* is read, clamped")
    func hugeReset() throws {
        let headers: HTTPHeaders = [
            "x-ratelimit-limit-requests": "10", "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "3000000h",
        ]
        let status = try #require(RateLimitHeaders.parse(headers, now: now))
        let reset = try #require(status.resetRequestsAt)
        #expect(reset > now)
    }

    @Test("Anthropic's and Gemini's Retry-After readings clamp too")
    func vendorRetryAfter() throws {
        let fields = HeaderFields([("retry-after", "1e16")])
        #expect(fields.retryAfter(now: now) == century)
        #expect(GeminiTranslator.parseProtobufDuration("1e300s") == century)
        #expect(GeminiTranslator.parseProtobufDuration("1.500s") == .milliseconds(1500))
    }

    @Test("Usage counts an upstream reports are kept within 0...2^40")
    func hugeUsage() throws {
        let json = #"{"prompt_tokens": 9223372036854775807, "completion_tokens": 9223372036854775807}"#
        let usage = try JSONDecoder().decode(Usage.self, from: Data(json.utf8))
        #expect(usage.promptTokens == 1 << 40)
        #expect(usage.totalTokens == 1 << 40)
        #expect(Usage(promptTokens: -5, completionTokens: 3).promptTokens == 0)
        let anthropic = try #require(
            AnthropicTranslator.usage(
                ["input_tokens": .int(Int.max), "cache_read_input_tokens": .int(Int.max), "output_tokens": .int(1)]))
        #expect(anthropic.promptTokens == 1 << 40)
        let gemini = try #require(
            GeminiTranslator.usage(["promptTokenCount": .int(Int.max), "candidatesTokenCount": .int(Int.max)]))
        #expect(gemini.completionTokens == 1 << 40)
    }
}

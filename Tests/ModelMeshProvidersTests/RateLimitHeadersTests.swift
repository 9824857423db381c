import Foundation
import ModelMesh
import ModelMeshProviders
import NIOHTTP1
import Testing

@Suite("Rate-limit and Retry-After headers")
struct RateLimitHeadersTests {
    let now = Date(timeIntervalSince1970: 1_768_478_400)

    @Test(
        "Go-style reset durations",
        arguments: [
            ("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("0.5", 0.5), ("150us", 0.00015),
            ("2m", 120.0), ("7.66s", 7.66),
        ])
    func durations(_ text: String, _ seconds: Double) throws {
        let duration = try #require(RateLimitHeaders.parseDuration(text))
        #expect(abs(duration.seconds - seconds) < 1e-9)
    }

    @Test("Unreadable durations", arguments: ["", "abc", "5x", "s", "-3", "1s2"])
    func badDurations(_ text: String) {
        #expect(RateLimitHeaders.parseDuration(text) == nil)
    }

    @Test("x-ratelimit-* headers")
    func openAIHeaders() throws {
        let headers: HTTPHeaders = [
            "x-ratelimit-limit-requests": "10000", "x-ratelimit-remaining-requests": "9999",
            "x-ratelimit-limit-tokens": "2000000", "x-ratelimit-remaining-tokens": "1999000",
            "x-ratelimit-reset-requests": "6ms", "x-ratelimit-reset-tokens": "1m30s",
        ]
        let status = try #require(RateLimitHeaders.parse(headers, now: now))
        #expect(status.limitRequests == 10000)
        #expect(status.remainingRequests == 9999)
        #expect(status.limitTokens == 2_000_000)
        #expect(status.remainingTokens == 1_999_000)
        #expect(status.resetRequestsAt == now.addingTimeInterval(0.006))
        #expect(status.resetTokensAt == now.addingTimeInterval(90))
    }

    @Test("Un-suffixed fallback names and an epoch reset")
    func fallbackHeaders() throws {
        let headers: HTTPHeaders = [
            "x-ratelimit-limit": "60", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1768478460",
        ]
        let status = try #require(RateLimitHeaders.parse(headers, now: now))
        #expect(status.limitRequests == 60)
        #expect(status.remainingRequests == 0)
        #expect(status.resetRequestsAt == Date(timeIntervalSince1970: 1_768_478_460))
        #expect(status.headroom == 0)
    }

    @Test("Anthropic names with RFC 3339 resets")
    func anthropicHeaders() throws {
        let headers: HTTPHeaders = [
            "anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "49",
            "anthropic-ratelimit-requests-reset": "2026-01-15T12:00:30Z",
        ]
        let status = try #require(RateLimitHeaders.parse(headers, names: .anthropic, now: now))
        #expect(status.remainingRequests == 49)
        #expect(status.resetRequestsAt == now.addingTimeInterval(30))
    }

    @Test("No rate-limit headers: nothing")
    func noHeaders() {
        #expect(RateLimitHeaders.parse(["content-type": "application/json"], now: now) == nil)
    }

    @Test("Retry-After in seconds, as an HTTP date, in the past, and retry-after-ms")
    func retryAfter() {
        #expect(RateLimitHeaders.retryAfter(["retry-after": "20"], now: now) == .seconds(20))
        #expect(RateLimitHeaders.retryAfter(["retry-after": "1.5"], now: now) == .milliseconds(1500))
        #expect(
            RateLimitHeaders.retryAfter(["retry-after": "Thu, 15 Jan 2026 12:01:00 GMT"], now: now) == .seconds(60))
        #expect(RateLimitHeaders.retryAfter(["retry-after": "Thu, 15 Jan 2026 11:00:00 GMT"], now: now) == .zero)
        #expect(
            RateLimitHeaders.retryAfter(["retry-after-ms": "250", "retry-after": "1"], now: now) == .milliseconds(250))
        #expect(RateLimitHeaders.retryAfter(["retry-after": "soon"], now: now) == nil)
        #expect(RateLimitHeaders.retryAfter([:], now: now) == nil)
    }
}

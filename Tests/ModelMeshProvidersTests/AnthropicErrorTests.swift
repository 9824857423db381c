import Foundation
import ModelMesh
import Testing

@testable import ModelMeshProviders

@Suite("Anthropic error classification")
struct AnthropicErrorTests {
    static func body(_ type: String, _ message: String) -> Data {
        Data(
            #"{"type":"error","error":{"type":"\#(type)","message":"\#(message)"},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}"#
                .utf8)
    }

    @Test(
        "error types map to classes",
        arguments: [
            (529, "overloaded_error", "Overloaded", ProviderErrorClass.serverError),
            (500, "api_error", "Internal server error", .serverError),
            (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit", .rateLimited),
            (401, "authentication_error", "invalid x-api-key", .authentication),
            (
                403, "permission_error", "Your API key does not have permission to use the specified resource.",
                .authentication
            ),
            (404, "not_found_error", "model: claude-sonnet-9", .modelNotFound),
            (413, "request_too_large", "Request exceeds the maximum allowed number of bytes.", .contextLength),
            (400, "invalid_request_error", "prompt is too long: 215000 tokens > 200000 maximum", .contextLength),
            (
                400, "invalid_request_error",
                "input length and `max_tokens` exceed context limit: 197000 + 8192 > 200000, decrease input length or `max_tokens` and try again",
                .contextLength
            ),
            (
                400, "invalid_request_error", "messages.1.content.0.text: text content blocks must be non-empty",
                .invalidRequest
            ),
            (
                400, "invalid_request_error",
                "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.",
                .quotaExhausted
            ),
            (402, "billing_error", "Payment required", .quotaExhausted),
        ])
    func classes(status: Int, type: String, message: String, errorClass: ProviderErrorClass) {
        let error = AnthropicTranslator.error(status: status, headers: [], body: Self.body(type, message))
        #expect(error.errorClass == errorClass)
        #expect(error.status == status)
        #expect(error.vendorCode == type)
        #expect(error.message.contains(message))
    }

    @Test("a 429 carries retry-after and the rate-limit headers")
    func rateLimited() throws {
        let headers = [
            ("Retry-After", "17"),
            ("anthropic-ratelimit-requests-limit", "50"),
            ("anthropic-ratelimit-requests-remaining", "0"),
            ("anthropic-ratelimit-requests-reset", "2025-06-15T14:30:17Z"),
            ("anthropic-ratelimit-tokens-limit", "40000"),
            ("anthropic-ratelimit-tokens-remaining", "1200"),
            ("anthropic-ratelimit-tokens-reset", "2025-06-15T14:30:05.250Z"),
            ("anthropic-ratelimit-input-tokens-limit", "30000"),
            ("request-id", "req_018EeWyXxfu5pfWkrYcMdjWG"),
        ]
        let error = AnthropicTranslator.error(
            status: 429, headers: headers, body: Self.body("rate_limit_error", "Rate limited"))
        #expect(error.errorClass == .rateLimited)
        #expect(error.retryAfter == .seconds(17))
        let limits = try #require(error.rateLimit)
        #expect(limits.limitRequests == 50)
        #expect(limits.remainingRequests == 0)
        #expect(limits.limitTokens == 40000)
        #expect(limits.remainingTokens == 1200)
        #expect(limits.resetRequestsAt == Date(timeIntervalSince1970: 1_749_997_817))
        let tokensReset = try #require(limits.resetTokensAt)
        #expect(abs(tokensReset.timeIntervalSince1970 - 1_749_997_805.25) < 0.001)
        #expect(limits.headroom == 0)
    }

    @Test("rate-limit headers of a successful response; dictionary headers; input-tokens fallback")
    func rateLimitHeaders() throws {
        let limits = try #require(
            AnthropicTranslator.rateLimit(headers: [
                "Anthropic-RateLimit-Requests-Limit": "4000",
                "anthropic-ratelimit-requests-remaining": "3999",
                "anthropic-ratelimit-input-tokens-limit": "400000",
                "anthropic-ratelimit-input-tokens-remaining": "399000",
            ]))
        #expect(limits.limitRequests == 4000)
        #expect(limits.remainingRequests == 3999)
        #expect(limits.limitTokens == 400000)
        #expect(limits.remainingTokens == 399000)
        #expect(AnthropicTranslator.rateLimit(headers: [("content-type", "application/json")]) == nil)
    }

    @Test("retry-after as an HTTP date")
    func retryAfterDate() {
        let now = Date(timeIntervalSince1970: 1_750_000_000)  // Sun, 15 Jun 2025 15:06:40 GMT
        let error = AnthropicTranslator.error(
            status: 429, headers: ["retry-after": "Sun, 15 Jun 2025 15:07:10 GMT"],
            body: Self.body("rate_limit_error", "Rate limited"), now: now)
        #expect(error.retryAfter == .seconds(30))
    }

    @Test(
        "bodies that are not Anthropic errors are classified by status",
        arguments: [
            (529, "<html>Overloaded</html>", ProviderErrorClass.serverError),
            (502, "<html><body>502 Bad Gateway</body></html>", .serverError),
            (413, "<html>413 Request Entity Too Large</html>", .contextLength),
            (401, "", .authentication),
            (429, "{\"message\": \"slow down\"}", .rateLimited),
        ])
    func nonVendorBodies(status: Int, body: String, errorClass: ProviderErrorClass) {
        let error = AnthropicTranslator.error(status: status, headers: [], body: Data(body.utf8))
        #expect(error.errorClass == errorClass)
        #expect(error.status == status)
        #expect(error.message.contains("HTTP \(status)"))
    }

    @Test("an error object in a 200 body is thrown by the response translation")
    func errorInResponse() throws {
        let error = try #require(throws: ProviderError.self) {
            try AnthropicTranslator().response(Self.body("overloaded_error", "Overloaded"), requestedModel: "m")
        }
        #expect(error.errorClass == .serverError)
    }

    @Test("default models")
    func defaults() throws {
        let sonnet = try #require(AnthropicModels.defaults.first { $0.name == "claude-sonnet-4-20250514" })
        #expect(sonnet.id == "anthropic.claude-sonnet-4-20250514")
        #expect(sonnet.contextWindow == 200_000)
        #expect(sonnet.maxOutputTokens == 16_384)
        #expect(sonnet.pricing?.inputPerMillion == 3)
        #expect(sonnet.pricing?.outputPerMillion == 15)
        let haiku = try #require(
            AnthropicModels.defaults(providerID: "claude").first { $0.name.hasPrefix("claude-haiku") })
        #expect(haiku.id == "claude.claude-haiku-4-5-20251001")
        #expect(haiku.provider == "claude")
        #expect(haiku.maxOutputTokens == 8_192)
    }
}

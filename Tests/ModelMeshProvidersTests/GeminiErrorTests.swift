import Foundation
import ModelMesh
import Testing

@testable import ModelMeshProviders

@Suite("Gemini error classification")
struct GeminiErrorTests {
    static func body(_ code: Int, _ status: String, _ message: String, details: String = "[]") -> Data {
        Data(
            #"{"error": {"code": \#(code), "message": "\#(message)", "status": "\#(status)", "details": \#(details)}}"#
                .utf8)
    }

    static let apiKeyInvalidDetails = #"""
        [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com",
          "metadata": {"service": "generativelanguage.googleapis.com"}}]
        """#

    static let perMinuteDetails = #"""
        [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
            {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
             "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
             "quotaDimensions": {"location": "global", "model": "gemini-2.0-flash"}, "quotaValue": "15"}]},
         {"@type": "type.googleapis.com/google.rpc.Help", "links": [
            {"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
         {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"}]
        """#

    static let perDayDetails = #"""
        [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
            {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
             "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
             "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"}, "quotaValue": "250"}]},
         {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "41.5s"}]
        """#

    static let quotaMessage =
        "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."

    @Test(
        "statuses and messages map to classes",
        arguments: [
            (
                429, "RESOURCE_EXHAUSTED", GeminiErrorTests.quotaMessage, GeminiErrorTests.perMinuteDetails,
                ProviderErrorClass.rateLimited
            ),
            (429, "RESOURCE_EXHAUSTED", GeminiErrorTests.quotaMessage, GeminiErrorTests.perDayDetails, .quotaExhausted),
            (429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", "[]", .rateLimited),
            (429, "RESOURCE_EXHAUSTED", "Your prepayment credits are depleted.", "[]", .quotaExhausted),
            (
                400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
                GeminiErrorTests.apiKeyInvalidDetails,
                .authentication
            ),
            (400, "INVALID_ARGUMENT", "API key expired. Please renew the API key.", "[]", .authentication),
            (401, "UNAUTHENTICATED", "Request had invalid authentication credentials.", "[]", .authentication),
            (403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers.", "[]", .authentication),
            (404, "NOT_FOUND", "models/gemini-9.0-pro is not found for API version v1beta.", "[]", .modelNotFound),
            (
                400, "INVALID_ARGUMENT",
                "The input token count (1250000) exceeds the maximum number of tokens allowed (1048576).", "[]",
                .contextLength
            ),
            (
                400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unknown name 'foo': Cannot find field.", "[]",
                .invalidRequest
            ),
            (
                400, "FAILED_PRECONDITION",
                "Gemini API free tier is not available in your country. Please enable billing on your project in Google AI Studio.",
                "[]",
                .quotaExhausted
            ),
            (400, "FAILED_PRECONDITION", "User location is not supported for the API use.", "[]", .invalidRequest),
            (500, "INTERNAL", "An internal error has occurred.", "[]", .serverError),
            (503, "UNAVAILABLE", "The model is overloaded. Please try again later.", "[]", .serverError),
            (504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.", "[]", .timeout),
        ])
    func classes(status: Int, code: String, message: String, details: String, errorClass: ProviderErrorClass) {
        let error = GeminiTranslator.error(
            status: status, headers: [], body: Self.body(status, code, message, details: details))
        #expect(error.errorClass == errorClass)
        #expect(error.status == status)
        #expect(error.vendorCode == code)
    }

    @Test("RetryInfo's retryDelay becomes retryAfter; a Retry-After header wins")
    func retryAfter() {
        let fromDetail = GeminiTranslator.error(
            status: 429, headers: [],
            body: Self.body(429, "RESOURCE_EXHAUSTED", Self.quotaMessage, details: Self.perMinuteDetails))
        #expect(fromDetail.retryAfter == .seconds(30))
        let fractional = GeminiTranslator.error(
            status: 429, headers: [:],
            body: Self.body(429, "RESOURCE_EXHAUSTED", Self.quotaMessage, details: Self.perDayDetails))
        #expect(fractional.retryAfter == .milliseconds(41_500))
        let fromHeader = GeminiTranslator.error(
            status: 429, headers: [("Retry-After", "12")],
            body: Self.body(429, "RESOURCE_EXHAUSTED", Self.quotaMessage, details: Self.perMinuteDetails))
        #expect(fromHeader.retryAfter == .seconds(12))
    }

    @Test("an error body wrapped in an array (streaming endpoint) is read")
    func arrayBody() {
        let body = Data(
            #"[{"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}}]"#
                .utf8)
        let error = GeminiTranslator.error(status: 429, headers: [], body: body)
        #expect(error.errorClass == .rateLimited)
        #expect(error.message.contains("Resource has been exhausted"))
    }

    @Test(
        "bodies that are not Google errors are classified by status",
        arguments: [
            (502, "<html>Bad Gateway</html>", ProviderErrorClass.serverError), (429, "", .rateLimited),
            (403, "Forbidden", .authentication),
        ])
    func nonVendorBodies(status: Int, body: String, errorClass: ProviderErrorClass) {
        let error = GeminiTranslator.error(status: status, headers: [], body: Data(body.utf8))
        #expect(error.errorClass == errorClass)
        #expect(error.message.contains("HTTP \(status)"))
    }

    @Test("default models")
    func defaults() throws {
        let models = GeminiModels.defaults
        #expect(
            models.map(\.name) == [
                "gemini-2.0-flash", "gemini-2.0-flash-lite", "gemini-2.5-flash", "text-embedding-004",
            ])
        let flash25 = try #require(models.first { $0.name == "gemini-2.5-flash" })
        #expect(flash25.id == "google.gemini-2.5-flash")
        #expect(flash25.contextWindow == 1_048_576)
        #expect(flash25.maxOutputTokens == 65_536)
        let embedding = try #require(models.last)
        #expect(embedding.capabilities == ["representation.embeddings.text-embeddings"])
        #expect(embedding.pricing == nil)
        #expect(!embedding.delivery.streaming)
    }
}

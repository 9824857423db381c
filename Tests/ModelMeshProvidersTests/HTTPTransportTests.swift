import Foundation
import ModelMesh
import ModelMeshProviders
import ModelMeshTesting
import NIOHTTP1
import Testing

/// The transport as the Anthropic and Gemini connectors use it: named events with their own
/// end marker, streams that simply end, keys in the query string.
@Suite("HTTP transport and fake upstream")
struct HTTPTransportTests {
    /// An Anthropic-like decoder: text deltas out, `message_stop` ends, `ping` is skipped.
    struct NamedEventDecoder: SSEEventDecoder {
        var seen = 0
        mutating func decode(_ event: SSEEvent) throws -> SSEDecodeStep<String> {
            seen += 1
            switch event.event {
            case "content_block_delta":
                guard
                    let text = try? JSONDecoder().decode(JSONValue.self, from: Data(event.data.utf8))["delta"]?["text"]?
                        .stringValue
                else { return .invalid }
                return .emit([text])
            case "message_stop": return .end(["<stop after \(seen) events>"])
            case "error":
                throw ProviderError(.serverError, message: "overloaded", vendorCode: "overloaded_error")
            default: return .skip
            }
        }
    }

    /// A Gemini-like decoder: every event is an element, the body's end is the end.
    struct PlainEndDecoder: SSEEventDecoder {
        mutating func decode(_ event: SSEEvent) throws -> SSEDecodeStep<String> { .emit([event.data]) }
        mutating func bodyEnded() throws -> [String] { ["<end>"] }
    }

    @Test("Named events with a vendor end marker; a named error event fails the stream")
    func namedEvents() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .sse(
                    [
                        .event("message_start", data: #"{"type":"message_start"}"#),
                        .event("content_block_delta", data: #"{"delta":{"type":"text_delta","text":"Hel"}}"#),
                        .event("ping", data: #"{"type":"ping"}"#),
                        .event("content_block_delta", data: #"{"delta":{"type":"text_delta","text":"lo"}}"#),
                        .event("message_stop", data: #"{"type":"message_stop"}"#),
                    ], ending: .finish), for: "/v1/messages")
            h.fake.enqueue(
                .sse(
                    [.event("error", data: #"{"type":"error","error":{"type":"overloaded_error"}}"#)], ending: .finish),
                for: "/v1/messages")
            let request = try UpstreamRequest.json(
                ["model": "claude"] as JSONValue, url: h.fake.url("/v1/messages"),
                headers: ["x-api-key": Harness.apiKey, "anthropic-version": "2023-06-01"], redactions: [Harness.apiKey],
                rateLimitHeaders: .anthropic)
            let stream = try await h.transport.openEventStream(
                request, headBudget: .seconds(5), idleTimeout: .seconds(5), decoder: NamedEventDecoder(),
                failure: { $0.error() })
            var elements: [String] = []
            for try await element in stream.elements { elements.append(element) }
            #expect(elements == ["Hel", "lo", "<stop after 5 events>"])
            #expect(h.fake.lastRequest?.header("anthropic-version") == "2023-06-01")
            #expect(h.fake.lastRequest?.json?["model"] == "claude")

            let failing = try await h.transport.openEventStream(
                request, headBudget: .seconds(5), idleTimeout: .seconds(5), decoder: NamedEventDecoder(),
                failure: { $0.error() })
            await #expect(throws: ProviderError.self) {
                for try await _ in failing.elements {}
            }
        }
    }

    @Test("A stream that simply ends; the key in the query never reaches an error")
    func queryKeyAndPlainEnd() async throws {
        try await Harness.run { h in
            let path = "/v1beta/models/gemini-2.0-flash:streamGenerateContent"
            h.fake.enqueue(.sse([.data(#"{"a":1}"#), .data(#"{"b":2}"#)], ending: .finish), for: path)
            h.fake.enqueue(
                .json(
                    #"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}"#,
                    status: 400), for: path)
            // A reset on a reused connection is tried once more on a new one; the second fails.
            h.fake.enqueue([.resetConnection, .resetConnection], for: path)
            let request = try UpstreamRequest.json(
                ["contents": []] as JSONValue, url: h.fake.url("\(path)?alt=sse&key=\(Harness.apiKey)"),
                redactions: [Harness.apiKey])

            let stream = try await h.transport.openEventStream(
                request, headBudget: .seconds(5), idleTimeout: .seconds(5), decoder: PlainEndDecoder(),
                failure: { $0.error() })
            var elements: [String] = []
            for try await element in stream.elements { elements.append(element) }
            #expect(elements == [#"{"a":1}"#, #"{"b":2}"#, "<end>"])
            #expect(h.fake.lastRequest?.query == "alt=sse&key=\(Harness.apiKey)")

            let refused = await #expect(throws: ProviderError.self) {
                try await h.transport.openEventStream(
                    request, headBudget: .seconds(5), idleTimeout: .seconds(5), decoder: PlainEndDecoder(),
                    failure: { response in
                        response.error(.authentication, message: "\(response.bodyText) for \(request.url)")
                    })
            }
            #expect(refused?.errorClass == .authentication)
            #expect(refused?.status == 400)
            #expect(refused?.message.contains("API key not valid") == true)
            #expect(refused?.message.contains(Harness.apiKey) == false)

            let reset = await #expect(throws: ProviderError.self) {
                try await h.transport.send(request, budget: .seconds(5))
            }
            #expect(reset?.errorClass == .connection)
            #expect(reset.map { String(describing: $0).contains(Harness.apiKey) } == false)
        }
    }

    @Test("send returns any status with its body, Retry-After and rate limits")
    func sendAnyStatus() async throws {
        try await Harness.run { h in
            h.fake.enqueue(
                .raw(
                    Array(#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#.utf8),
                    status: 429,
                    contentType: "application/json",
                    headers: [
                        ("retry-after", "3"), ("anthropic-ratelimit-requests-limit", "50"),
                        ("anthropic-ratelimit-requests-remaining", "0"),
                    ]), for: "/v1/messages")
            let request = UpstreamRequest(
                url: h.fake.url("/v1/messages"), body: .init(string: "{}"), rateLimitHeaders: .anthropic)
            let response = try await h.transport.send(request, budget: .seconds(5))
            #expect(response.status == 429)
            #expect(!response.isSuccess)
            #expect(response.retryAfter == .seconds(3))
            #expect(response.rateLimit?.remainingRequests == 0)
            #expect(response.bodyText.contains("rate_limit_error"))
            #expect(response.error().errorClass == .rateLimited)
        }
    }

    @Test("proxy.limits bound what an upstream may send: a body over max_upstream_body fails the attempt")
    func upstreamBodyLimit() async throws {
        var limits = ProxyConfiguration.Limits()
        limits.maxUpstreamBody = 2048
        limits.maxSSEEvent = 4096
        limits.maxStreamDuration = .seconds(90)
        let configuration = HTTPTransport.Configuration(limits: limits)
        #expect(configuration.maximumEventSize == 4096)
        #expect(configuration.maximumStreamDuration == .seconds(90))
        try await Harness.run(transport: configuration) { h in
            h.fake.enqueue(.json("{\"padding\": \"" + String(repeating: "x", count: 4096) + "\"}"), for: "/big")
            h.fake.enqueue(.json("{\"padding\": \"" + String(repeating: "x", count: 1024) + "\"}"), for: "/small")
            let small = try await h.transport.send(
                UpstreamRequest(url: h.fake.url("/small"), body: .init(string: "{}")), budget: .seconds(5))
            #expect(small.status == 200)
            let big = await #expect(throws: ProviderError.self) {
                try await h.transport.send(
                    UpstreamRequest(url: h.fake.url("/big"), body: .init(string: "{}")), budget: .seconds(5))
            }
            #expect(big?.message.contains("max_upstream_body") == true)
        }
    }

    @Test("The fake serves path queues in order, then any-path scripts, defaults, and a 404")
    func fakeScripting() async throws {
        try await Harness.run { h in
            h.fake.enqueue([.text("first"), .text("second")], for: "/a")
            h.fake.enqueue(.text("anywhere"))
            h.fake.setDefault(.text("default-b"), for: "/b")
            func get(_ path: String) async throws -> (Int, String) {
                let response = try await h.transport.send(
                    UpstreamRequest(method: .GET, url: h.fake.url(path)), budget: .seconds(5))
                return (response.status, response.bodyText)
            }
            #expect(try await get("/a") == (200, "first"))
            #expect(try await get("/a?x=1") == (200, "second"))
            #expect(try await get("/a") == (200, "anywhere"))
            #expect(try await get("/b") == (200, "default-b"))
            let (status, body) = try await get("/a")
            #expect(status == 404)
            #expect(body.contains("no response scripted for GET /a"))
            #expect(h.fake.requests.map(\.uri) == ["/a", "/a?x=1", "/a", "/b", "/a"])
            #expect(h.fake.requests(to: "/a").count == 4)
            #expect(h.fake.pendingResponses(for: "/a") == 0)
            #expect(h.fake.activity.requests == 5)
        }
    }
}

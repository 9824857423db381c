import Foundation
import ModelMesh
import ModelMeshTesting
import NIOHTTP1
import Testing

@testable import ModelMeshProviders

/// The data plane's connection pool against a local fake upstream: keep-alive reuse, the
/// stale-connection retry, the idle timeout, the per-host limit and its queue, read
/// backpressure on a stream whose consumer stalls, and HTTPS with a generated CA.
@Suite("Upstream connection pool")
struct UpstreamPoolTests {
    static func post(_ url: String) -> UpstreamRequest {
        UpstreamRequest(url: url, headers: ["content-type": "application/json"], body: .init(string: #"{"q":1}"#))
    }

    @Test("Requests in a row share one keep-alive connection")
    func keepAlive() async throws {
        try await Harness.run { h in
            h.fake.setDefault(.json(#"{"ok":true}"#))
            for _ in 0..<5 {
                let response = try await h.transport.send(Self.post(h.fake.url("/v1/x")), budget: .seconds(5))
                #expect(response.status == 200)
                #expect(response.bodyText == #"{"ok":true}"#)
            }
            #expect(h.fake.activity.acceptedConnections == 1)
            #expect(h.fake.requests.allSatisfy { $0.header("host") == "127.0.0.1:\(h.fake.port)" })
            #expect(h.fake.requests.allSatisfy { $0.header("content-length") == "7" })
        }
    }

    @Test("A reused connection that fails before any answer byte is retried once on a new one")
    func staleConnectionRetry() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.json(#"{"n":1}"#), for: "/v1/x")
            h.fake.enqueue(.resetConnection, for: "/v1/x")
            h.fake.enqueue(.json(#"{"n":2}"#), for: "/v1/x")
            _ = try await h.transport.send(Self.post(h.fake.url("/v1/x")), budget: .seconds(5))
            let second = try await h.transport.send(Self.post(h.fake.url("/v1/x")), budget: .seconds(5))
            #expect(second.bodyText == #"{"n":2}"#)
            #expect(h.fake.activity.requests == 3)
            #expect(h.fake.activity.acceptedConnections == 2)
        }
    }

    @Test("A new connection that fails is not retried: the failure is the upstream's")
    func freshConnectionFailureIsReported() async throws {
        try await Harness.run { h in
            h.fake.enqueue(.resetConnection, for: "/v1/x")
            h.fake.enqueue(.json(#"{"n":2}"#), for: "/v1/x")
            let error = await #expect(throws: ProviderError.self) {
                try await h.transport.send(Self.post(h.fake.url("/v1/x")), budget: .seconds(5))
            }
            #expect(error?.errorClass == .connection)
            #expect(h.fake.activity.requests == 1)
        }
    }

    @Test("An idle connection is closed after the idle timeout; the next request opens a new one")
    func idleTimeout() async throws {
        var settings = HTTPTransport.Configuration()
        settings.idleConnectionTimeout = .milliseconds(100)
        try await Harness.run(transport: settings) { h in
            h.fake.setDefault(.json(#"{"ok":true}"#))
            _ = try await h.transport.send(Self.post(h.fake.url("/v1/x")), budget: .seconds(5))
            try await withTimeLimit { await h.fake.wait { $0.closedConnections == 1 } }
            _ = try await h.transport.send(Self.post(h.fake.url("/v1/x")), budget: .seconds(5))
            #expect(h.fake.activity.acceptedConnections == 2)
        }
    }

    @Test("A connection used again within the idle timeout closes a whole timeout after its last use")
    func idleTimeoutCountsFromLastUse() async throws {
        // Long enough that a loaded machine still reuses the connection after the pause below.
        let timeout = Duration.seconds(3)
        var settings = HTTPTransport.Configuration()
        settings.idleConnectionTimeout = .seconds(3)
        try await Harness.run(transport: settings) { h in
            h.fake.setDefault(.json(#"{"ok":true}"#))
            _ = try await h.transport.send(Self.post(h.fake.url("/v1/x")), budget: .seconds(5))
            // Idle for a third of the timeout, then used again.
            try await Task.sleep(for: .seconds(1))
            _ = try await h.transport.send(Self.post(h.fake.url("/v1/x")), budget: .seconds(5))
            let lastUse = ContinuousClock.now
            #expect(h.fake.activity.acceptedConnections == 1)
            try await withTimeLimit(.seconds(10)) { await h.fake.wait { $0.closedConnections == 1 } }
            // Timers never fire early, so a correct pool closes it no sooner than a whole timeout
            // after the last use; counted from the first use it would close about 2 s after it.
            let idle = ContinuousClock.now - lastUse
            #expect(idle >= timeout - .milliseconds(200), "closed \(idle) after its last use")
        }
    }

    @Test("Beyond the per-host limit requests wait for a connection and all complete")
    func perHostLimitQueues() async throws {
        var settings = HTTPTransport.Configuration()
        settings.maximumConnectionsPerHost = 2
        try await Harness.run(transport: settings) { h in
            h.fake.setDefault(.sse([.data("x", delay: .milliseconds(50))], ending: .finish))
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<6 {
                    group.addTask { try await h.transport.send(Self.post(h.fake.url("/v1/x")), budget: .seconds(5)).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: 6))
            #expect(h.fake.activity.requests == 6)
            #expect(h.fake.activity.acceptedConnections == 2)
        }
    }

    @Test("A request waiting for a connection still ends at its deadline")
    func waitingRequestTimesOut() async throws {
        var settings = HTTPTransport.Configuration()
        settings.maximumConnectionsPerHost = 1
        try await Harness.run(transport: settings) { h in
            h.fake.enqueue(.silence, for: "/v1/x")
            let holder = Task { try? await h.transport.send(Self.post(h.fake.url("/v1/x")), budget: .seconds(5)) }
            await h.fake.waitForRequests(1)
            let error = await #expect(throws: ProviderError.self) {
                try await h.transport.send(Self.post(h.fake.url("/v1/x")), budget: .milliseconds(200))
            }
            #expect(error?.errorClass == .timeout)
            holder.cancel()
            _ = await holder.value
            #expect(h.fake.activity.requests == 1)
        }
    }

    @Test("A stalled consumer holds the upstream back; draining it then delivers everything")
    func backpressure() async throws {
        try await Harness.run { h in
            // 32 MB: far more than the loopback socket buffers hold.
            let piece = String(repeating: "x", count: 16 * 1024)
            let count = 2000
            h.fake.enqueue(
                .sse(Array(repeating: FakeStreamEvent.data(piece), count: count), ending: .finish), for: "/v1/s")
            let stream = try await h.transport.openEventStream(
                Self.post(h.fake.url("/v1/s")), headBudget: .seconds(5), idleTimeout: .seconds(30),
                decoder: HTTPTransportTests.PlainEndDecoder(), failure: { $0.error() })
            var iterator = stream.elements.makeAsyncIterator()
            #expect(try await iterator.next()?.count == piece.count)
            // With reads paused, the fake's writes stop once the socket buffers are full: the
            // count of written events settles well short of the whole body. (Without
            // backpressure the client keeps reading and the count keeps growing to the end.)
            var written = h.fake.activity.writtenEvents
            var steady = 0
            while steady < 3, written < count {
                try await Task.sleep(for: .milliseconds(100))
                let now = h.fake.activity.writtenEvents
                steady = now == written ? steady + 1 : 0
                written = now
            }
            #expect(written < count / 2)
            var received = 1
            while let element = try await iterator.next() {
                if element != "<end>" { received += 1 }
            }
            #expect(received == count)
            #expect(h.fake.activity.writtenEvents == count)
        }
    }

    final class Token: Sendable {}

    /// Emits every event; holds a token whose lifetime shows whether the stream's state was freed.
    struct TokenDecoder: SSEEventDecoder {
        let token: Token
        mutating func decode(_ event: SSEEvent) throws -> SSEDecodeStep<String> { .emit([event.data]) }
        mutating func bodyEnded() throws -> [String] { [] }
    }

    final class WeakToken: @unchecked Sendable {
        weak var token: Token?
    }

    @Test("A finished or abandoned stream frees its state (no cycle between the call and its reader)")
    func streamStateIsFreed() async throws {
        try await Harness.run { h in
            for abandon in [false, true] {
                let weak = WeakToken()
                h.fake.enqueue(
                    .sse([.data("a"), .data("b", delay: abandon ? .seconds(5) : .zero)], ending: .finish), for: "/v1/s")
                do {
                    let token = Token()
                    weak.token = token
                    // The callback lives as long as the stream's reader does.
                    let stream = try await h.transport.openEventStream(
                        Self.post(h.fake.url("/v1/s")), headBudget: .seconds(5), idleTimeout: .seconds(30),
                        decoder: TokenDecoder(token: token), onInvalidEvent: { [token] _ in _ = token },
                        failure: { $0.error() })
                    var iterator = stream.elements.makeAsyncIterator()
                    #expect(try await iterator.next() == "a")
                    if !abandon { while try await iterator.next() != nil {} }
                }
                // Whatever still runs on the event loop for it settles within moments.
                var waited = 0
                while weak.token != nil, waited < 100 {
                    try await Task.sleep(for: .milliseconds(20))
                    waited += 1
                }
                #expect(weak.token == nil, "stream state still alive (abandoned: \(abandon))")
            }
        }
    }

    @Test("HTTPS to a fake upstream whose certificate a generated CA signed, by address and by name")
    func tlsWithGeneratedCA() async throws {
        let ca = try TestCertificateAuthority.make(names: ["localhost"], addresses: ["127.0.0.1"])
        let fake = try await FakeUpstream.start(tls: try ca.serverContext())
        var settings = HTTPTransport.Configuration()
        settings.additionalTrustRoots = [ca.certificateFile]
        let transport = HTTPTransport(configuration: settings)
        let untrusting = HTTPTransport()
        fake.setDefault(.json(#"{"ok":true}"#))
        #expect(fake.baseURL.hasPrefix("https://"))
        for _ in 0..<3 {
            let response = try await transport.send(Self.post(fake.url("/v1/x")), budget: .seconds(5))
            #expect(response.status == 200)
        }
        #expect(fake.activity.acceptedConnections == 1)
        let byName = try await transport.send(
            Self.post("https://localhost:\(fake.port)/v1/x"), budget: .seconds(5))
        #expect(byName.status == 200)

        // Without the CA the certificate is refused, and nothing reaches the upstream.
        let before = fake.activity.requests
        let refused = await #expect(throws: ProviderError.self) {
            try await untrusting.send(Self.post(fake.url("/v1/x")), budget: .seconds(5))
        }
        #expect(refused?.errorClass == .connection)
        #expect(fake.activity.requests == before)
        try await transport.shutdown()
        try await untrusting.shutdown()
        try await fake.shutdown()
    }

    @Test("A certificate for another host name is refused")
    func tlsHostnameMismatch() async throws {
        let ca = try TestCertificateAuthority.make(names: ["models.example"], addresses: [])
        let fake = try await FakeUpstream.start(tls: try ca.serverContext())
        var settings = HTTPTransport.Configuration()
        settings.additionalTrustRoots = [ca.certificateFile]
        let transport = HTTPTransport(configuration: settings)
        fake.setDefault(.json(#"{"ok":true}"#))
        let refused = await #expect(throws: ProviderError.self) {
            try await transport.send(Self.post(fake.url("/v1/x")), budget: .seconds(5))
        }
        #expect(refused?.errorClass == .connection)
        #expect(fake.activity.requests == 0)
        try await transport.shutdown()
        try await fake.shutdown()
    }

    @Test("Malformed upstream URLs are refused before anything is sent")
    func malformedURLs() {
        for url in ["ftp://x/y", "http://", "http://user:pw@host/x", "http://host:99999/"] {
            #expect(throws: UpstreamTarget.Invalid.self) { try UpstreamTarget(url) }
        }
        let target = try? UpstreamTarget("https://API.example.com/v1/chat?x=1#frag")
        #expect(target?.endpoint == UpstreamEndpoint(tls: true, host: "api.example.com", port: 443))
        #expect(target?.uri == "/v1/chat?x=1")
        #expect(target?.endpoint.hostHeader == "api.example.com")
        let v6 = try? UpstreamTarget("http://[::1]:8080")
        #expect(v6?.endpoint.host == "::1")
        #expect(v6?.endpoint.hostHeader == "[::1]:8080")
        #expect(v6?.uri == "/")
    }
}

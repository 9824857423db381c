import ModelMesh
import ModelMeshTesting
import NIOCore
import NIOPosix
import Testing

/// A raw TCP connection to the proxy, for clients no HTTP library would be: ones that stop
/// half-way through a request.
struct RawConnection {
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>

    static func open(port: Int) async throws -> RawConnection {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return RawConnection(channel: channel)
    }

    /// Sends `text`, then reads until the proxy closes the connection or `until` holds for
    /// what has arrived; returns what arrived.
    func exchange(_ text: String, until: @escaping @Sendable (String) -> Bool = { _ in false }) async throws -> String {
        try await channel.executeThenClose { inbound, outbound in
            if !text.isEmpty { try await outbound.write(ByteBuffer(string: text)) }
            var received = ""
            do {
                for try await buffer in inbound {
                    received += String(buffer: buffer)
                    if until(received) { break }
                }
            } catch where !received.isEmpty {
                // A server that closes right after its answer may reset the connection while
                // the last bytes were read; what arrived is the answer to check.
            }
            return received
        }
    }
}

@Suite("proxy.limits at the edge", .timeLimit(.minutes(1)))
struct EdgeLimitsTests {
    /// Short idle and body timeouts. The head timeout is short only where a test is about
    /// it: a loaded machine may take longer than 200 ms to send a whole head.
    static func short(_ limits: inout ProxyConfiguration.Limits, head: Bool = false) {
        limits.headTimeout = head ? .milliseconds(200) : .seconds(10)
        limits.idleTimeout = .milliseconds(200)
        limits.bodyTimeout = .milliseconds(200)
    }

    @Test("A half-sent request head gets 408 and the connection closes")
    func halfHead() async throws {
        try await withProxy(twoModels(), proxy: { Self.short(&$0.limits, head: true) }) { client in
            let connection = try await RawConnection.open(port: client.port)
            let received = try await withTimeLimit(.seconds(10)) {
                try await connection.exchange("GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            }
            #expect(received.hasPrefix("HTTP/1.1 408"), "\(received)")
            #expect(received.contains(#""code":"request_timeout""#), "\(received)")
        }
    }

    @Test("A connection that sends nothing gets 408 and is closed")
    func silentConnection() async throws {
        try await withProxy(twoModels(), proxy: { Self.short(&$0.limits, head: true) }) { client in
            let connection = try await RawConnection.open(port: client.port)
            let received = try await withTimeLimit(.seconds(10)) { try await connection.exchange("") }
            #expect(received.hasPrefix("HTTP/1.1 408"), "\(received)")
        }
    }

    @Test("An idle keep-alive connection is closed after its answer")
    func idleKeepAlive() async throws {
        try await withProxy(twoModels(), proxy: { Self.short(&$0.limits) }) { client in
            let connection = try await RawConnection.open(port: client.port)
            let received = try await withTimeLimit(.seconds(10)) {
                try await connection.exchange("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            }
            // One answer, then the close: no 408 between requests.
            #expect(received.hasPrefix("HTTP/1.1 200"), "\(received)")
            // (Not any "408": the random request id can hold those digits.)
            #expect(!received.contains("HTTP/1.1 408"), "\(received)")
        }
    }

    @Test("A stalled request body is cut with 408")
    func stalledBody() async throws {
        try await withProxy(twoModels(), proxy: { Self.short(&$0.limits) }) { client in
            let connection = try await RawConnection.open(port: client.port)
            let received = try await withTimeLimit(.seconds(10)) {
                try await connection.exchange(
                    "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        + "Content-Length: 100\r\n\r\n{\"model\": ")
            }
            #expect(received.hasPrefix("HTTP/1.1 408"), "\(received)")
            #expect(received.contains("body_timeout"), "\(received)")
        }
    }

    @Test(
        "Too many or too large headers get 431",
        arguments: [
            String(repeating: "X-Many: 1\r\n", count: 12),
            "X-Large: " + String(repeating: "a", count: 2000) + "\r\n",
        ])
    func headerLimits(headers: String) async throws {
        try await withProxy(
            twoModels(),
            proxy: {
                $0.limits.maxHeaders = 10
                $0.limits.maxHeaderSize = 1024
            }
        ) { client in
            let connection = try await RawConnection.open(port: client.port)
            let received = try await withTimeLimit(.seconds(10)) {
                try await connection.exchange("GET /health HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n")
            }
            #expect(received.hasPrefix("HTTP/1.1 431"), "\(received)")
            #expect(received.contains("request_header_fields_too_large"), "\(received)")
            // Within the limits the same request is served.
            let fine = try await client.send(.GET, "/health", headers: [("X-Few", "1")])
            #expect(fine.status == 200)
        }
    }

    @Test("A connection beyond max_connections gets 503 too_many_connections and is closed")
    func tooManyConnections() async throws {
        try await withProxy(twoModels(), proxy: { $0.limits.maxConnections = 1 }) { client in
            let holder = try await RawConnection.open(port: client.port)
            try await holder.channel.executeThenClose { inbound, outbound in
                // The first connection is served, and stays open (keep-alive) while the next one tries.
                try await outbound.write(ByteBuffer(string: "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"))
                var iterator = inbound.makeAsyncIterator()
                let first = try await iterator.next().map { String(buffer: $0) } ?? ""
                #expect(first.hasPrefix("HTTP/1.1 200"), "\(first)")

                let extra = try await RawConnection.open(port: client.port)
                let refused = try await withTimeLimit(.seconds(10)) {
                    try await extra.exchange("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                }
                #expect(refused.hasPrefix("HTTP/1.1 503"), "\(refused)")
                #expect(refused.lowercased().contains("connection: close"), "\(refused)")
                #expect(refused.contains(#""code":"too_many_connections""#), "\(refused)")
            }
        }
    }

    @Test("A stream that outlasts idle_timeout many times over is not cut")
    func streamOutlastsIdleTimeout() async throws {
        try await withProxy(twoModels(), proxy: { Self.short(&$0.limits) }) { client in
            let connection = try await RawConnection.open(port: client.port)
            // The events stream sends a heartbeat every 100 ms and never ends on its own:
            // twenty of them span ten idle timeouts.
            let received = try await withTimeLimit(.seconds(20)) {
                try await connection.exchange("GET /v1/mesh/events HTTP/1.1\r\nHost: x\r\n\r\n") {
                    $0.components(separatedBy: ": keep-alive").count > 20
                }
            }
            #expect(received.hasPrefix("HTTP/1.1 200"), "\(received.prefix(200))")
            #expect(received.components(separatedBy: ": keep-alive").count > 20)
        }
    }
}

import Foundation
import ModelMesh
import ModelMeshTesting
import NIOCore
import Testing

@testable import ModelMeshServer

/// Splits what arrived on a raw connection into complete responses with a `Content-Length`.
private func responses(_ text: String) -> [(status: Int, requestID: String, body: String)] {
    var result: [(Int, String, String)] = []
    var rest = Substring(text)
    while let headEnd = rest.range(of: "\r\n\r\n") {
        let lines = rest[..<headEnd.lowerBound].components(separatedBy: "\r\n")
        guard let status = lines.first?.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { break }
        var fields: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        guard let length = fields["content-length"].flatMap({ Int($0) }) else { break }
        let body = rest[headEnd.upperBound...].utf8.prefix(length)
        guard body.count == length else { break }
        result.append((status, fields["x-request-id"] ?? "", String(decoding: body, as: UTF8.self)))
        rest = Substring(rest[headEnd.upperBound...].utf8.dropFirst(length))
    }
    return result
}

private func chatRequest(id: String, _ text: String, extraHeaders: String = "") -> String {
    let body = #"{"model": "chat", "messages": [{"role": "user", "content": "\#(text)"}]}"#
    return "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Request-Id: \(id)\r\n\(extraHeaders)"
        + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
}

/// Chat and embeddings are answered from the connection's pipeline, the other routes by
/// Hummingbird; on one connection the two must look like one server.
@Suite("Hot routes on the connection pipeline", .timeLimit(.minutes(1)))
struct HotRouteTests {
    @Test("Pipelined requests are answered in order, whichever side answers them")
    func pipelinedOrder() async throws {
        // The first chat answer is slow: answered out of order, the models list would come first.
        let alpha = MockProvider(
            script: [.delay(.milliseconds(200), then: .reply("first")), .reply("third"), .reply("fifth")])
        try await withProxy(twoModels(alpha)) { client in
            let connection = try await RawConnection.open(port: client.port)
            let text =
                chatRequest(id: "r1", "one") + "GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Request-Id: r2\r\n\r\n"
                + chatRequest(id: "r3", "three") + "GET /health HTTP/1.1\r\nHost: x\r\nX-Request-Id: r4\r\n\r\n"
                + chatRequest(id: "r5", "five")
            let received = try await withTimeLimit(.seconds(20)) {
                try await connection.exchange(text) { responses($0).count == 5 }
            }
            let answers = responses(received)
            #expect(answers.map(\.requestID) == ["r1", "r2", "r3", "r4", "r5"], "\(received)")
            #expect(answers.map(\.status) == [200, 200, 200, 200, 200])
            guard answers.count == 5 else { return }
            #expect(answers[0].body.contains(#""content":"first""#), "\(answers[0].body)")
            #expect(answers[1].body.contains(#""object":"list""#), "\(answers[1].body)")
            #expect(answers[2].body.contains(#""content":"third""#), "\(answers[2].body)")
            #expect(answers[4].body.contains(#""content":"fifth""#), "\(answers[4].body)")
            // Every answer carries the headers Hummingbird's server adds.
            #expect(received.components(separatedBy: "\r\nServer: modelmesh\r\n").count == 6, "\(received)")
            #expect(received.components(separatedBy: "\r\nDate: ").count == 6, "\(received)")
        }
    }

    @Test("A chat request with Connection: close is answered, then the connection closes")
    func connectionClose() async throws {
        try await withProxy(twoModels()) { client in
            let connection = try await RawConnection.open(port: client.port)
            // `exchange` returns only once the proxy closed the connection.
            let received = try await withTimeLimit(.seconds(10)) {
                try await connection.exchange(chatRequest(id: "c1", "hi", extraHeaders: "Connection: close\r\n"))
            }
            #expect(responses(received).map(\.status) == [200], "\(received)")
        }
    }

    @Test("A chunked request body in several pieces is put together")
    func chunkedBody() async throws {
        try await withProxy(twoModels()) { client in
            let connection = try await RawConnection.open(port: client.port)
            let first = #"{"model": "chat", "messa"#
            let second = #"ges": [{"role": "user", "content": "hi"}]}"#
            let chunks = [first, second].map { String($0.utf8.count, radix: 16) + "\r\n" + $0 + "\r\n" }.joined()
            let request =
                "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n" + chunks + "0\r\n\r\n"
            let received = try await withTimeLimit(.seconds(10)) {
                try await connection.exchange(request) { responses($0).count == 1 }
            }
            let answers = responses(received)
            #expect(answers.map(\.status) == [200], "\(received)")
            #expect(answers.first?.body.contains(#""object":"chat.completion""#) == true, "\(received)")
        }
    }

    @Test(
        "A body over body_limit gets 413 and the connection serves the next request",
        arguments: [false, true])
    func bodyOverLimit(chunked: Bool) async throws {
        try await withProxy(twoModels(), proxy: { $0.bodyLimit = 1000 }) { client in
            let connection = try await RawConnection.open(port: client.port)
            let body = #"{"model": "chat", "pad": ""# + String(repeating: "x", count: 3000) + #""}"#
            let framing =
                chunked
                ? "Transfer-Encoding: chunked\r\n\r\n" + String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n0\r\n\r\n"
                : "Content-Length: \(body.utf8.count)\r\n\r\n" + body
            let text =
                "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + framing
                + "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
            let received = try await withTimeLimit(.seconds(10)) {
                try await connection.exchange(text) { responses($0).count == 2 }
            }
            let answers = responses(received)
            #expect(answers.map(\.status) == [413, 200], "\(received)")
            #expect(answers.first?.body.contains("1000") == true, "\(received)")
        }
    }

    @Test("A chat stream to a client that stops reading holds the upstream back")
    func slowClientHoldsUpstreamBack() async throws {
        // 64 MB of chunks: several times what the two loopback connections can buffer.
        let piece = String(repeating: "x", count: 16 * 1024)
        let count = 4000
        try await WireBodyPassThroughTests.withUpstream { fake, client in
            fake.setDefault(.openAIStream(pieces: Array(repeating: piece, count: count)))
            let connection = try await RawConnection.open(port: client.port)
            let body = #"{"model": "chat", "messages": [{"role": "user", "content": "hi"}], "stream": true}"#
            try await connection.channel.executeThenClose { inbound, outbound in
                try await outbound.write(
                    ByteBuffer(
                        string: "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"))
                var iterator = inbound.makeAsyncIterator()
                let first = try await iterator.next().map { String(buffer: $0) } ?? ""
                #expect(first.hasPrefix("HTTP/1.1 200"), "\(first.prefix(200))")
                // The client reads no more. The proxy's writes wait for the socket, so it stops
                // reading the upstream, whose written-event count settles well short of the end.
                var written = fake.activity.writtenEvents
                var steady = 0
                while steady < 3, written < count {
                    try await Task.sleep(for: .milliseconds(100))
                    let now = fake.activity.writtenEvents
                    steady = now == written ? steady + 1 : 0
                    written = now
                }
                #expect(written < count / 2, "\(written) of \(count) chunks written")
            }
        }
    }

    @Test("A stream still running at the shutdown deadline ends with an in-band error, not [DONE]")
    func shutdownDeadlineCutsStream() async throws {
        let alpha = MockProvider(fallback: .stream(["a", "b", "c"], stallAfter: 1))
        try await withProxy(twoModels(alpha), proxy: { $0.shutdownTimeout = .milliseconds(300) }) { client in
            let response = try await client.open(
                .POST, "/v1/chat/completions",
                body: #"{"model": "chat", "messages": [{"role": "user", "content": "hi"}], "stream": true}"#)
            #expect(response.status == .ok)
            var iterator = response.body.makeAsyncIterator()
            var text = try await iterator.next().map { String(buffer: $0) } ?? ""
            // Answered from the pipeline: the request is one of the server's hot-route tasks.
            #expect(client.server.hotRouteTasks.count == 1)
            await client.shutdown()
            while let buffer = try await iterator.next() { text += String(buffer: buffer) }
            let payloads = SSE.payloads(text)
            #expect(payloads.last?.contains("shutting down") == true, "\(text)")
            #expect(!payloads.contains("[DONE]"))
        }
    }
}

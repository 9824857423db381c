import AsyncHTTPClient
import Foundation
import ModelMesh
import ModelMeshServer
import ModelMeshTesting
import NIOCore
import Synchronization
import Testing

/// Records what reaches an observability connector and whether it was shut down.
final class ShutdownRecorder: ObservabilityConnector {
    private let flushed = Mutex(false)
    var wasShutDown: Bool { flushed.withLock { $0 } }
    func emit(_ event: RoutingEvent) throws {}
    func shutdown() async { flushed.withLock { $0 = true } }
}

@Suite("Graceful shutdown", .timeLimit(.minutes(1)))
struct ShutdownTests {
    @Test("A stream in flight finishes during graceful shutdown; then the mesh is shut down")
    func streamFinishesOnShutdown() async throws {
        let alpha = MockProvider(
            fallback: .stream(["a", "b", "c", "d", "e"], pieceDelay: .milliseconds(60)))
        let recorder = ShutdownRecorder()
        try await withProxy(twoModels(alpha)) { client in
            client.mesh.events.subscribe(recorder)
            let response = try await client.open(
                .POST, "/v1/chat/completions",
                body: #"{"model": "chat", "messages": [{"role": "user", "content": "hi"}], "stream": true}"#)
            #expect(response.status == .ok)
            let events = try await client.open(.GET, "/v1/mesh/events")
            #expect(events.status == .ok)

            await client.shutdown()
            // The events stream ends on shutdown ...
            var eventText = ""
            for try await buffer in events.body { eventText += String(buffer: buffer) }
            #expect(eventText.hasPrefix(": modelmesh events"))
            // ... while the chat stream runs to its end.
            var text = ""
            for try await buffer in response.body { text += String(buffer: buffer) }
            let payloads = SSE.payloads(text)
            #expect(payloads.last == "[DONE]")
            let content = payloads.dropLast().compactMap {
                try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8))
            }.compactMap { $0["choices"]?[0]?["delta"]?["content"]?.stringValue }.joined()
            #expect(content == "abcde")
        }
        #expect(recorder.wasShutDown)
    }

    @Test("A client that disconnects mid-stream stops the relay, so shutdown does not wait for the stream")
    func disconnectStopsRelay() async throws {
        // The whole stream would take 18 seconds.
        let alpha = MockProvider(fallback: .stream(Array(repeating: "x", count: 600), pieceDelay: .milliseconds(30)))
        let started = ContinuousClock.now
        try await withProxy(twoModels(alpha)) { client in
            let own = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
            let response = try await own.execute(
                client.makeRequest(
                    .POST, "/v1/chat/completions",
                    body: #"{"model": "chat", "messages": [{"role": "user", "content": "hi"}], "stream": true}"#),
                timeout: .seconds(30))
            #expect(response.status == .ok)
            var iterator = response.body.makeAsyncIterator()
            #expect(try await iterator.next() != nil)
            // Closing the client closes the connection mid-stream.
            try await own.shutdown()
        }
        #expect(ContinuousClock.now - started < .seconds(10))
    }
}

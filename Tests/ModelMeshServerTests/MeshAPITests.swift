import AsyncHTTPClient
import Foundation
import HummingbirdTesting
import ModelMesh
import ModelMeshServer
import ModelMeshTesting
import NIOCore
import Testing

@Suite("Models, probes, metrics, CORS and the mesh API", .timeLimit(.minutes(1)))
struct MeshAPITests {
    @Test("/v1/models lists pools and models; /v1/models/{id} handles dotted ids")
    func models() async throws {
        try await withProxy(twoModels()) { client in
            let list = try await client.send(.GET, "/v1/models")
            #expect(list.status == 200)
            #expect(list.json["object"]?.stringValue == "list")
            let data = try #require(list.json["data"]?.arrayValue)
            #expect(data.map { $0["id"]?.stringValue } == ["chat", "vendor.alpha", "vendor.beta"])
            #expect(data[0]["owned_by"]?.stringValue == "modelmesh")
            #expect(data[1]["owned_by"]?.stringValue == "vendor")
            #expect(data[1]["object"]?.stringValue == "model")
            #expect(data[1]["created"]?.intValue != nil)

            let one = try await client.send(.GET, "/v1/models/vendor.alpha")
            #expect(one.status == 200)
            #expect(one.json["id"]?.stringValue == "vendor.alpha")

            let missing = try await client.send(.GET, "/v1/models/vendor.alpah")
            #expect(missing.status == 404)
            #expect(missing.json["error"]?["code"]?.stringValue == "model_not_found")
            #expect(missing.json["error"]?["message"]?.stringValue?.contains("'vendor.alpha'") == true)
        }
    }

    @Test("/health and /ready")
    func probes() async throws {
        try await withProxy(twoModels()) { client in
            let health = try await client.send(.GET, "/health")
            #expect(health.status == 200)
            #expect(health.body == #"{"status":"ok"}"#)
            let ready = try await client.send(.GET, "/ready")
            #expect(ready.status == 200)
            #expect(ready.json["ready"]?.boolValue == true)
        }
    }

    @Test("/metrics shows request counters after requests")
    func metrics() async throws {
        try await withProxy(twoModels()) { client in
            _ = try await client.chat()
            _ = try await client.chat("no-such-pool")
            let metrics = try await client.send(.GET, "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.header("content-type")?.hasPrefix("text/plain") == true)
            #expect(
                metrics.body.contains(#"modelmesh_requests_total{pool="chat",model="vendor.alpha",status="200"} 1"#))
            #expect(
                metrics.body.contains(
                    #"modelmesh_upstream_attempts_total{model="vendor.alpha",provider="p-vendor.alpha",outcome="success"} 1"#
                ))
            #expect(metrics.body.contains("modelmesh_request_duration_seconds_bucket"))
            #expect(metrics.body.contains(#"modelmesh_model_active{pool="chat",model="vendor.beta"} 1"#))
            #expect(
                metrics.body.contains(
                    #"modelmesh_http_responses_total{endpoint="/v1/chat/completions",status="404"} 1"#))
        }
    }

    @Test("CORS preflight and headers follow the allowed origins")
    func cors() async throws {
        try await withProxy(twoModels(), proxy: { $0.corsOrigins = ["https://app.example"] }) { client in
            let preflight = try await client.send(
                .OPTIONS, "/v1/chat/completions",
                headers: [("origin", "https://app.example"), ("access-control-request-method", "POST")])
            #expect(preflight.status < 300)
            #expect(preflight.header("access-control-allow-origin") == "https://app.example")
            #expect(preflight.header("access-control-allow-methods")?.contains("POST") == true)
            #expect(preflight.header("access-control-allow-headers")?.lowercased().contains("authorization") == true)

            let allowed = try await client.send(.GET, "/v1/models", headers: [("origin", "https://app.example")])
            #expect(allowed.header("access-control-allow-origin") == "https://app.example")

            let other = try await client.send(.GET, "/v1/models", headers: [("origin", "https://evil.example")])
            #expect(other.header("access-control-allow-origin") == nil)
            let otherPreflight = try await client.send(
                .OPTIONS, "/v1/chat/completions",
                headers: [("origin", "https://evil.example"), ("access-control-request-method", "POST")])
            #expect(otherPreflight.header("access-control-allow-origin") == nil)
        }
    }

    @Test("proxy.endpoints restricts the served paths")
    func endpointFilter() async throws {
        try await withProxy(twoModels(), proxy: { $0.endpoints = ["/v1/chat/completions", "/v1/mesh"] }) { client in
            let chat = try await client.chat()
            #expect(chat.status == 200)
            #expect(try await client.send(.GET, "/v1/mesh/state").status == 200)
            #expect(try await client.send(.GET, "/v1/models").status == 404)
            #expect(try await client.send(.GET, "/metrics").status == 404)
            #expect(try await client.send(.GET, "/health").status == 200)
        }
    }

    @Test("Mesh state, explain, activate and deactivate")
    func meshAPI() async throws {
        let alpha = MockProvider()
        try await withProxy(twoModels(alpha)) { client in
            let state = try await client.send(.GET, "/v1/mesh/state")
            #expect(state.status == 200)
            let pool = try #require(state.json["pools"]?[0])
            #expect(pool["id"]?.stringValue == "chat")
            #expect(pool["members"]?[0]?["model_id"]?.stringValue == "vendor.alpha")
            #expect(pool["members"]?[0]?["state"]?.stringValue == "active")

            let explain = try await client.send(
                .POST, "/v1/mesh/explain", body: #"{"model": "chat", "messages": [{"role": "user", "content": "hi"}]}"#)
            #expect(explain.status == 200)
            #expect(explain.json["pool_id"]?.stringValue == "chat")
            #expect(
                explain.json["chain"]?.arrayValue?.compactMap { $0["model_id"]?.stringValue } == [
                    "vendor.alpha", "vendor.beta",
                ])
            #expect(alpha.callCount == 0)

            let off = try await client.send(.POST, "/v1/mesh/models/vendor.alpha/deactivate?pool=chat")
            #expect(off.status == 200)
            #expect(off.json["changed"]?.intValue == 1)
            let after = try await client.send(.GET, "/v1/mesh/state")
            #expect(after.json["pools"]?[0]?["members"]?[0]?["state"]?.stringValue == "standby")
            #expect(after.json["pools"]?[0]?["members"]?[0]?["reason"]?.stringValue == "manual")
            let routed = try await client.chat()
            #expect(routed.header("x-modelmesh-model") == "vendor.beta")

            let explained = try await client.send(
                .POST, "/v1/mesh/explain", body: #"{"model": "chat", "messages": [{"role": "user", "content": "hi"}]}"#)
            #expect(explained.json["filtered_out"]?[0]?["model_id"]?.stringValue == "vendor.alpha")

            let on = try await client.send(.POST, "/v1/mesh/models/vendor.alpha/activate")
            #expect(on.status == 200)
            #expect(on.json["changed"]?.intValue == 1)
            #expect(try await client.chat().header("x-modelmesh-model") == "vendor.alpha")

            let unknown = try await client.send(.POST, "/v1/mesh/models/vendor.gamma/deactivate")
            #expect(unknown.status == 404)
            let badAction = try await client.send(.POST, "/v1/mesh/models/vendor.alpha/explode")
            #expect(badAction.status == 404)
        }
    }

    @Test("/v1/mesh/events streams a model_deactivated after a manual deactivate")
    func eventsStream() async throws {
        try await withProxy(twoModels()) { client in
            let stream = try await client.open(.GET, "/v1/mesh/events")
            #expect(stream.status == .ok)
            #expect(stream.headers.first(name: "content-type") == "text/event-stream")
            #expect(try await client.send(.POST, "/v1/mesh/models/vendor.beta/deactivate").status == 200)
            var text = ""
            var found: JSONValue?
            search: for try await buffer in stream.body {
                text += String(buffer: buffer)
                for payload in SSE.payloads(text) {
                    let event = try JSONDecoder().decode(JSONValue.self, from: Data(payload.utf8))
                    if event["event_type"]?.stringValue == "model_deactivated" {
                        found = event
                        break search
                    }
                }
            }
            let event = try #require(found)
            #expect(event["model_id"]?.stringValue == "vendor.beta")
            #expect(event["pool_id"]?.stringValue == "chat")
            #expect(event["metadata"]?["reason"]?.stringValue == "manual")
            #expect(event["timestamp"]?.stringValue?.hasSuffix("Z") == true)
        }
    }

    @Test("/v1/mesh/events filters by event type")
    func eventsFilter() async throws {
        try await withProxy(twoModels()) { client in
            let bad = try await client.send(.GET, "/v1/mesh/events?events=nonsense")
            #expect(bad.status == 400)
            #expect(bad.json["error"]?["param"]?.stringValue == "events")

            let stream = try await client.open(.GET, "/v1/mesh/events?events=model_activated")
            #expect(stream.status == .ok)
            // The deactivation is filtered out; the activation after it is the first event through.
            #expect(try await client.send(.POST, "/v1/mesh/models/vendor.beta/deactivate").status == 200)
            #expect(try await client.send(.POST, "/v1/mesh/models/vendor.beta/activate").status == 200)
            var text = ""
            var first: JSONValue?
            search: for try await buffer in stream.body {
                text += String(buffer: buffer)
                if let payload = SSE.payloads(text).first {
                    first = try JSONDecoder().decode(JSONValue.self, from: Data(payload.utf8))
                    break search
                }
            }
            #expect(first?["event_type"]?.stringValue == "model_activated")
            #expect(first?["metadata"]?["trigger"]?.stringValue == "manual")
        }
    }

    @Test("Statistics are flushed to connectors on the configured interval")
    func statisticsFlush() async throws {
        let flushes = FlushRecorder()
        var mesh = twoModels()
        mesh.configure = { $0.observability.statisticsFlushInterval = .milliseconds(20) }
        try await withProxy(mesh) { client in
            client.mesh.events.subscribe(flushes)
            _ = try await client.chat()
            // Arrives after the interval, without waiting for shutdown.
            var iterator = flushes.snapshots.makeAsyncIterator()
            let first = await iterator.next()
            #expect(first != nil)
        }
    }

    @Test("The router works in-process with HummingbirdTesting")
    func routerInProcess() async throws {
        let mesh = try twoModels().build()
        let server = ProxyServer(mesh: mesh, logger: quietLogger)
        try await server.makeApplication().test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.init("x-request-id")!] != nil)
            }
            try await client.execute(uri: "/v1/models/vendor.beta", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
        await mesh.shutdown()
    }
}

/// Passes on every statistics snapshot it receives.
final class FlushRecorder: ObservabilityConnector {
    let snapshots: AsyncStream<[String: AggregateStats]>
    private let continuation: AsyncStream<[String: AggregateStats]>.Continuation

    init() { (snapshots, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(16)) }

    func emit(_ event: RoutingEvent) throws {}
    func flush(_ stats: [String: AggregateStats]) throws { continuation.yield(stats) }
}

@Suite struct ProviderStateAPITests {
    @Test("POST /v1/mesh/providers/{id}/deactivate and /activate move every model of the provider")
    func providerActivation() async throws {
        try await withProxy(twoModels()) { client in
            let off = try await client.send(.POST, "/v1/mesh/providers/p-vendor.alpha/deactivate")
            #expect(off.status == 200)
            #expect(off.json["state"]?.stringValue == "deactivated")
            let state = try await client.send(.GET, "/v1/mesh/state")
            let provider = state.json["providers"]?.arrayValue?.first { $0["id"]?.stringValue == "p-vendor.alpha" }
            #expect(provider?["reason"]?.stringValue == "manual")
            #expect(try await client.chat().header("x-modelmesh-model") == "vendor.beta")

            let on = try await client.send(.POST, "/v1/mesh/providers/p-vendor.alpha/activate")
            #expect(on.status == 200)
            #expect(on.json["state"]?.stringValue == "active")
            #expect(try await client.chat().header("x-modelmesh-model") == "vendor.alpha")

            let unknown = try await client.send(.POST, "/v1/mesh/providers/p-nobody/deactivate")
            #expect(unknown.status == 404)
        }
    }
}

@Suite struct AdminTokenTests {
    func bearer(_ token: String) -> [(String, String)] { [("authorization", "Bearer \(token)")] }

    @Test("Operator endpoints need an admin token: a client token gets 403, none 401")
    func operatorEndpointsNeedAnAdminToken() async throws {
        try await withProxy(
            twoModels(),
            proxy: {
                $0.tokens = [Secret("client-token-1")]
                $0.adminTokens = [Secret("admin-token-1")]
            }
        ) { client in
            let paths = ["/v1/mesh/models/vendor.alpha/deactivate", "/v1/mesh/providers/p-vendor.alpha/deactivate"]
            for path in paths {
                let asClient = try await client.send(.POST, path, headers: bearer("client-token-1"))
                #expect(asClient.status == 403, "\(path)")
                #expect(asClient.json["error"]?["code"]?.stringValue == "permission_denied")
                #expect(try await client.send(.POST, path).status == 401)
                #expect(try await client.send(.POST, path, headers: bearer("wrong")).status == 401)
            }
            // Nothing changed.
            let state = try await client.send(.GET, "/v1/mesh/state", headers: bearer("client-token-1"))
            #expect(state.json["pools"]?[0]?["members"]?[0]?["state"]?.stringValue == "active")
            // The admin token works there and everywhere else.
            let asAdmin = try await client.send(.POST, paths[0], headers: bearer("admin-token-1"))
            #expect(asAdmin.status == 200)
            #expect(try await client.send(.GET, "/v1/mesh/state", headers: bearer("admin-token-1")).status == 200)
        }
    }

    @Test("Without admin tokens, operator endpoints refuse every client token")
    func noAdminTokensMeansNoOperatorAccess() async throws {
        try await withProxy(twoModels(), proxy: { $0.tokens = [Secret("client-token-1")] }) { client in
            let refused = try await client.send(
                .POST, "/v1/mesh/models/vendor.alpha/deactivate", headers: bearer("client-token-1"))
            #expect(refused.status == 403)
            #expect(refused.body.contains("admin_tokens"))
        }
    }

    @Test("proxy.auth.admin_tokens is read from the file, with secret references")
    func adminTokensFromYAML() throws {
        let configuration = try ConfigurationLoader.parse(
            yaml: "proxy: {auth: {tokens: [a-client], admin_tokens: [\"${ADMIN}\"]}}", environment: ["ADMIN": "s3cret-admin"])
        #expect(configuration.proxy.adminTokens.map(\.value) == ["s3cret-admin"])
    }
}

#if OpenTelemetry
    import AsyncHTTPClient
    import Foundation
    import Logging
    import ModelMesh
    import ModelMeshOTel
    import ModelMeshProviders
    import ModelMeshServer
    import ModelMeshTesting
    import NIOCore
    import NIOHTTP1
    import ServiceLifecycle
    import Testing

    /// The proxy's spans, exported over OTLP/HTTP (JSON) to a fake collector on loopback.
    @Suite struct ProxyTracingTests {
        static let chatPath = "/v1/chat/completions"
        static let collectorToken = "Bearer otlp-0123456789-secret"

        @Test func aProxiedRequestHasARequestSpanAndAnAttemptSpan() async throws {
            let upstream = try await FakeUpstream.start()
            let collector = try await OTLPCollector.start()
            upstream.enqueue(.openAIChatCompletion(content: "hello", model: "gpt-4o-2024-08-06"), for: Self.chatPath)
            try await TracedProxy.run(models: [("openai.gpt-4o", upstream)], collector: collector) { proxy in
                let response = try await proxy.chat()
                #expect(response.status == .ok)
            }
            let spans = try await collector.spans { spans in spans.count >= 2 }
            let request = try #require(spans.first { $0.name == "chat chat" })
            let attempt = try #require(spans.first { $0.parentSpanId == request.spanId })
            #expect(request.kind == 2)  // server
            #expect(request.attribute("gen_ai.operation.name") == "chat")
            #expect(request.attribute("gen_ai.request.model") == "chat")
            #expect(request.attribute("gen_ai.response.model") == "openai.gpt-4o")
            #expect(request.attribute("gen_ai.system") == "openai")
            #expect(request.attribute("gen_ai.usage.input_tokens") == "10")
            #expect(request.attribute("gen_ai.usage.output_tokens") == "5")
            #expect(request.attribute("gen_ai.response.finish_reasons") == "[stop]")
            #expect(request.attribute("modelmesh.pool") == "chat")
            #expect(attempt.kind == 3)  // client
            #expect(attempt.traceId == request.traceId)
            #expect(attempt.name == "chat gpt-4o")
            #expect(attempt.attribute("gen_ai.request.model") == "gpt-4o")
            #expect(attempt.attribute("gen_ai.response.model") == "gpt-4o-2024-08-06")
            #expect(attempt.attribute("gen_ai.system") == "openai")
            #expect(attempt.attribute("gen_ai.usage.input_tokens") == "10")
            #expect(attempt.attribute("modelmesh.attempt") == "1")
            #expect(attempt.attribute("modelmesh.model") == "openai.gpt-4o")
            // The upstream's request names the attempt span as its parent.
            let traceparent = try #require(upstream.lastRequest?.header("traceparent"))
            #expect(
                traceparent.split(separator: "-").map(String.init) == ["00", request.traceId, attempt.spanId, "01"])
            // The configured headers reach the collector.
            #expect(collector.upstream.lastRequest?.header("authorization") == Self.collectorToken)
            #expect(collector.upstream.lastRequest?.header("content-type") == "application/json")
            try await upstream.shutdown()
            try await collector.upstream.shutdown()
        }

        @Test func aClientTraceparentIsContinuedAndPropagated() async throws {
            let upstream = try await FakeUpstream.start()
            let collector = try await OTLPCollector.start()
            upstream.enqueue(.openAIChatCompletion(), for: Self.chatPath)
            let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
            let parentID = "00f067aa0ba902b7"
            try await TracedProxy.run(models: [("openai.gpt-4o", upstream)], collector: collector) { proxy in
                let response = try await proxy.chat(headers: [("traceparent", "00-\(traceID)-\(parentID)-01")])
                #expect(response.status == .ok)
            }
            let spans = try await collector.spans { spans in spans.count >= 2 }
            let request = try #require(spans.first { $0.name == "chat chat" })
            #expect(request.traceId == traceID)
            #expect(request.parentSpanId == parentID)
            let attempt = try #require(spans.first { $0.parentSpanId == request.spanId })
            let traceparent = try #require(upstream.lastRequest?.header("traceparent"))
            #expect(traceparent.hasPrefix("00-\(traceID)-\(attempt.spanId)-"))
            try await upstream.shutdown()
            try await collector.upstream.shutdown()
        }

        @Test func aStreamCutMidWayShowsTwoAttemptsAndTheRotation() async throws {
            let first = try await FakeUpstream.start()
            let second = try await FakeUpstream.start()
            let collector = try await OTLPCollector.start()
            first.enqueue(
                .sse(
                    FakeStreamEvent.openAIChunks(pieces: ["Hello", ", wor"], usage: nil).dropLast()
                        + [.comment("keep-alive", delay: .milliseconds(100))],
                    ending: .cut),
                for: Self.chatPath)
            second.enqueue(.openAIStream(pieces: ["ld", "!"]), for: Self.chatPath)
            try await TracedProxy.run(
                models: [("openai.gpt-4o", first), ("openai.gpt-4o-mini", second)], collector: collector
            ) { proxy in
                let response = try await proxy.chat(stream: true)
                #expect(response.status == .ok)
                #expect(response.body.contains("[DONE]"))
            }
            let spans = try await collector.spans { spans in spans.count >= 3 }
            let request = try #require(spans.first { $0.name == "chat chat" })
            let attempts = spans.filter { $0.parentSpanId == request.spanId }
            #expect(attempts.count == 2, "\(spans.map(\.name))")
            let cut = try #require(attempts.first { $0.attribute("modelmesh.model") == "openai.gpt-4o" })
            let resumed = try #require(attempts.first { $0.attribute("modelmesh.model") == "openai.gpt-4o-mini" })
            #expect(cut.status?.code == 2)
            #expect(cut.attribute("modelmesh.error_class") != nil)
            #expect(resumed.status?.code != 2)
            #expect(resumed.attribute("modelmesh.rotated_from") == "openai.gpt-4o")
            #expect(resumed.attribute("gen_ai.response.finish_reasons") == "[stop]")
            #expect(request.attribute("gen_ai.response.model") == "openai.gpt-4o-mini")
            let rotation = try #require(request.events?.first { $0.name == "model_rotated" })
            #expect(rotation.attribute("modelmesh.from_model") == "openai.gpt-4o")
            #expect(rotation.attribute("modelmesh.to_model") == "openai.gpt-4o-mini")
            try await first.shutdown()
            try await second.shutdown()
            try await collector.upstream.shutdown()
        }

        @Test func tracingOffSendsNothing() async throws {
            let upstream = try await FakeUpstream.start()
            let collector = try await OTLPCollector.start()
            upstream.enqueue(.openAIChatCompletion(), for: Self.chatPath)
            try await TracedProxy.run(models: [("openai.gpt-4o", upstream)], collector: nil) { proxy in
                let response = try await proxy.chat(headers: [
                    ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                ])
                #expect(response.status == .ok)
            }
            // The proxy has stopped: with no exporter there is nothing left that could send.
            #expect(collector.upstream.requests.isEmpty)
            #expect(upstream.lastRequest?.header("traceparent") == nil)
            try await upstream.shutdown()
            try await collector.upstream.shutdown()
        }
    }

    // MARK: - The proxy under test

    /// A proxy over OpenAI-compatible fake upstreams, exporting to `collector` when given.
    struct TracedProxy {
        let http: HTTPClient
        let port: Int

        struct Reply {
            var status: HTTPResponseStatus
            var body: String
        }

        func chat(stream: Bool = false, headers: [(String, String)] = []) async throws -> Reply {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(
                ByteBuffer(
                    string: #"{"model": "chat", "messages": [{"role": "user", "content": "hi"}], "stream": \#(stream)}"#
                ))
            let response = try await http.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 1 << 20)
            return Reply(status: response.status, body: String(buffer: body))
        }

        static func run(
            models: [(String, FakeUpstream)], collector: OTLPCollector?, _ body: (TracedProxy) async throws -> Void
        ) async throws {
            let transport = HTTPTransport()
            var config = MeshConfiguration()
            var registry = ProviderRegistry()
            for (id, upstream) in models {
                let provider = ProviderConfiguration(
                    id: "p-" + id, connector: "openai.llm.v1", baseURL: upstream.url("/v1"), apiKey: Secret("sk-test"))
                config.providers.append(provider)
                config.models.append(
                    ModelConfiguration(
                        id: id, provider: "p-" + id, capabilities: ["generation.text-generation.chat-completion"],
                        features: [.systemPrompt, .prefill]))
                registry.register(
                    provider: "p-" + id,
                    instance: try OpenAICompatibleProvider(configuration: provider, transport: transport))
            }
            var chat = PoolConfiguration(id: "chat", capability: "chat-completion")
            chat.retry.maxAttempts = 1
            chat.deactivation.retryLimit = 100
            config.pools = [chat]
            config.observability.connectors = []
            let mesh = try Mesh(configuration: config, providers: registry, jitter: { 1 })

            var exporter: TraceExporter?
            if let collector {
                var tracing = TraceExportConfiguration()
                tracing.endpoint = collector.upstream.baseURL
                tracing.exportProtocol = .httpJSON
                tracing.headers = ["Authorization": Secret(ProxyTracingTests.collectorToken)]
                exporter = try TraceExporter(
                    configuration: tracing, exportInterval: .milliseconds(50),
                    logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            }
            var proxyConfiguration = ProxyConfiguration()
            proxyConfiguration.host = "127.0.0.1"
            proxyConfiguration.port = 0
            proxyConfiguration.shutdownTimeout = .seconds(10)
            let (ports, portContinuation) = AsyncStream<Int>.makeStream()
            var options = ProxyServer.Options()
            options.tracer = exporter?.tracer
            options.onServerRunning = { port in
                portContinuation.yield(port)
                portContinuation.finish()
            }
            let server = ProxyServer(
                mesh: mesh, configuration: proxyConfiguration, options: options,
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            let group = server.makeServiceGroup(
                services: exporter.map { [$0.service] } ?? [], gracefulShutdownSignals: [])
            let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
            do {
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    var iterator = ports.makeAsyncIterator()
                    guard let port = await iterator.next() else {
                        Issue.record("The proxy did not start")
                        return
                    }
                    do {
                        try await body(TracedProxy(http: http, port: port))
                    } catch {
                        await group.triggerGracefulShutdown()
                        try? await tasks.waitForAll()
                        throw error
                    }
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
            } catch {
                try? await http.shutdown()
                try? await transport.shutdown()
                throw error
            }
            try await http.shutdown()
            try await transport.shutdown()
        }
    }

    // MARK: - The fake collector

    /// An OTLP/HTTP collector on loopback: a ``FakeUpstream`` that accepts `POST /v1/traces`
    /// and decodes the JSON bodies it received.
    struct OTLPCollector {
        let upstream: FakeUpstream

        static func start() async throws -> OTLPCollector {
            let upstream = try await FakeUpstream.start()
            upstream.setDefault(.json("{}"), for: "/v1/traces")
            return OTLPCollector(upstream: upstream)
        }

        /// Every span received so far.
        var received: [OTLPSpan] {
            upstream.requests(to: "/v1/traces").flatMap { request -> [OTLPSpan] in
                guard let export = try? JSONDecoder().decode(OTLPExport.self, from: Data(request.body)) else {
                    Issue.record("The collector received a body that is not OTLP JSON: \(request.bodyText)")
                    return []
                }
                return export.resourceSpans.flatMap { ($0.scopeSpans ?? []).flatMap { $0.spans ?? [] } }
            }
        }

        /// Waits (at most 10 s) until the received spans satisfy `done`; returns them.
        func spans(until done: @escaping @Sendable ([OTLPSpan]) -> Bool) async throws -> [OTLPSpan] {
            let collector = self
            return try await withTimeLimit(.seconds(10)) {
                while true {
                    let seen = collector.upstream.activity.requests
                    let spans = collector.received
                    if done(spans) { return spans }
                    await collector.upstream.wait { $0.requests > seen }
                }
            }
        }
    }

    struct OTLPExport: Decodable {
        var resourceSpans: [ResourceSpans]

        struct ResourceSpans: Decodable {
            var scopeSpans: [ScopeSpans]?
        }

        struct ScopeSpans: Decodable {
            var spans: [OTLPSpan]?
        }
    }

    struct OTLPSpan: Decodable, Sendable {
        var traceId: String
        var spanId: String
        var parentSpanId: String?
        var name: String
        var kind: Int?
        var attributes: [OTLPAttribute]?
        var events: [OTLPEvent]?
        var status: Status?

        struct Status: Decodable, Sendable {
            var code: Int?
        }

        enum CodingKeys: String, CodingKey {
            case traceId, spanId, parentSpanId, name, kind, attributes, events, status
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            traceId = OTLPSpan.hex(try c.decode(String.self, forKey: .traceId))
            spanId = OTLPSpan.hex(try c.decode(String.self, forKey: .spanId))
            parentSpanId = try c.decodeIfPresent(String.self, forKey: .parentSpanId).map(OTLPSpan.hex)
            if parentSpanId?.isEmpty == true { parentSpanId = nil }
            name = try c.decode(String.self, forKey: .name)
            kind = try c.decodeIfPresent(Int.self, forKey: .kind)
            attributes = try c.decodeIfPresent([OTLPAttribute].self, forKey: .attributes)
            events = try c.decodeIfPresent([OTLPEvent].self, forKey: .events)
            status = try c.decodeIfPresent(Status.self, forKey: .status)
        }

        func attribute(_ key: String) -> String? { attributes?.first { $0.key == key }?.value.text }

        /// IDs as lowercase hex: protobuf's JSON mapping writes bytes in base64.
        static func hex(_ text: String) -> String {
            if text.count % 2 == 0, text.allSatisfy(\.isHexDigit), text.count == 32 || text.count == 16 {
                return text.lowercased()
            }
            guard let bytes = Data(base64Encoded: text) else { return text }
            return bytes.map { String(format: "%02x", $0) }.joined()
        }
    }

    struct OTLPEvent: Decodable, Sendable {
        var name: String
        var attributes: [OTLPAttribute]?

        func attribute(_ key: String) -> String? { attributes?.first { $0.key == key }?.value.text }
    }

    struct OTLPAttribute: Decodable, Sendable {
        var key: String
        var value: Value

        /// An OTLP `AnyValue`, as text: numbers as written, arrays as `[a, b]`.
        struct Value: Decodable, Sendable {
            var text: String?

            enum CodingKeys: String, CodingKey {
                case stringValue, intValue, doubleValue, boolValue, arrayValue
            }

            struct Values: Decodable { var values: [Value]? }

            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                if let text = try c.decodeIfPresent(String.self, forKey: .stringValue) {
                    self.text = text
                } else if let number = try? c.decodeIfPresent(String.self, forKey: .intValue) {
                    text = number
                } else if let number = try c.decodeIfPresent(Int.self, forKey: .intValue) {
                    text = String(number)
                } else if let number = try c.decodeIfPresent(Double.self, forKey: .doubleValue) {
                    text = String(number)
                } else if let flag = try c.decodeIfPresent(Bool.self, forKey: .boolValue) {
                    text = String(flag)
                } else if let array = try c.decodeIfPresent(Values.self, forKey: .arrayValue) {
                    text = "[" + (array.values ?? []).compactMap(\.text).joined(separator: ", ") + "]"
                } else {
                    text = nil
                }
            }
        }
    }
#endif

import AsyncHTTPClient
import Foundation
import Logging
import ModelMesh
import ModelMeshServer
import ModelMeshTesting
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Testing

/// A response read to the end.
struct TestResponse {
    var status: Int
    var headers: HTTPHeaders
    var body: String

    var json: JSONValue {
        (try? JSONDecoder().decode(JSONValue.self, from: Data(body.utf8))) ?? .null
    }

    /// The `data:` payloads of a server-sent-events body, in order.
    var events: [String] { SSE.payloads(body) }

    func header(_ name: String) -> String? { headers.first(name: name) }
}

enum SSE {
    static func payloads(_ text: String) -> [String] {
        text.components(separatedBy: "\n\n").compactMap { block in
            let data = block.split(separator: "\n").filter { $0.hasPrefix("data: ") }.map { $0.dropFirst(6) }
            return data.isEmpty ? nil : data.joined(separator: "\n")
        }
    }
}

extension JSONValue {
    subscript(key: String) -> JSONValue? { objectValue?[key] }
    subscript(index: Int) -> JSONValue? {
        guard let array = arrayValue, array.indices.contains(index) else { return nil }
        return array[index]
    }
}

/// A client of one running proxy.
struct ProxyClient: Sendable {
    let http: HTTPClient
    let port: Int
    let mesh: Mesh
    let server: ProxyServer
    /// Starts graceful shutdown of the proxy's service group.
    let shutdown: @Sendable () async -> Void

    var base: String { "http://127.0.0.1:\(port)" }

    func makeRequest(
        _ method: HTTPMethod, _ path: String, body: String? = nil, headers: [(String, String)] = []
    ) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        return request
    }

    /// Sends a request and reads the whole response.
    func send(
        _ method: HTTPMethod, _ path: String, body: String? = nil, headers: [(String, String)] = []
    ) async throws -> TestResponse {
        try await send(makeRequest(method, path, body: body, headers: headers))
    }

    func send(_ request: HTTPClientRequest) async throws -> TestResponse {
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return TestResponse(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
    }

    /// Sends a request and returns as soon as the response head arrived.
    func open(
        _ method: HTTPMethod, _ path: String, body: String? = nil, headers: [(String, String)] = []
    ) async throws -> HTTPClientResponse {
        try await http.execute(makeRequest(method, path, body: body, headers: headers), timeout: .seconds(30))
    }

    func chat(_ model: String = "chat", _ text: String = "hi", stream: Bool = false, headers: [(String, String)] = [])
        async throws -> TestResponse
    {
        let body =
            #"{"model": "\#(model)", "messages": [{"role": "user", "content": "\#(text)"}], "stream": \#(stream)}"#
        return try await send(.POST, "/v1/chat/completions", body: body, headers: headers)
    }
}

/// The models of a test mesh: `(model id, mock)`; each model gets its own provider
/// `p-<model id>` and the chat capability, and the pool `chat` holds them in order.
struct TestMesh {
    var models: [(String, any ProviderConnector)]
    var pool: (inout PoolConfiguration) -> Void = { _ in }
    var configure: (inout MeshConfiguration) -> Void = { _ in }
    /// Observability connectors subscribed besides the configured ones.
    var connectors: [any ObservabilityConnector] = []

    func build() throws -> Mesh {
        let (config, registry) = configuration()
        // Real time: the proxy runs the mesh's maintenance loops, and on a clock that jumps
        // ahead at every sleep those loops would push requests past their deadlines.
        return try Mesh(
            configuration: config, providers: registry, connectors: connectors, clock: SystemClock(), jitter: { 1 })
    }

    /// The configuration `build()` uses, and the registry that knows every mock.
    func configuration() -> (MeshConfiguration, ProviderRegistry) {
        var config = MeshConfiguration()
        var registry = ProviderRegistry()
        for (modelID, mock) in models {
            let providerID = "p-" + modelID
            config.providers.append(ProviderConfiguration(id: providerID, connector: "mock.v1"))
            config.models.append(
                ModelConfiguration(
                    id: modelID, provider: providerID, capabilities: ["generation.text-generation.chat-completion"]))
            registry.register(provider: providerID, instance: mock)
        }
        var chat = PoolConfiguration(id: "chat", capability: "chat-completion")
        // Fast, deterministic failover: one attempt per model, no deactivation on one failure.
        chat.retry.maxAttempts = 1
        chat.deactivation.retryLimit = 100
        pool(&chat)
        config.pools = [chat]
        config.observability.connectors = []
        configure(&config)
        return (config, registry)
    }
}

let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// Runs a real proxy on an ephemeral port for the duration of `body`, then shuts it down
/// gracefully and waits for it to stop.
func withProxy(
    _ testMesh: TestMesh, proxy: (inout ProxyConfiguration) -> Void = { _ in }, logger: Logger = quietLogger,
    options configureOptions: (inout ProxyServer.Options, Mesh) -> Void = { _, _ in },
    _ body: (ProxyClient) async throws -> Void
) async throws {
    let mesh = try testMesh.build()
    var configuration = ProxyConfiguration()
    configuration.host = "127.0.0.1"
    configuration.port = 0
    configuration.shutdownTimeout = .seconds(10)
    proxy(&configuration)
    let (ports, portContinuation) = AsyncStream<Int>.makeStream()
    var options = ProxyServer.Options()
    options.heartbeatInterval = .milliseconds(100)
    options.onServerRunning = { port in
        portContinuation.yield(port)
        portContinuation.finish()
    }
    configureOptions(&options, mesh)
    let server = ProxyServer(mesh: mesh, configuration: configuration, options: options, logger: logger)
    let group = server.makeServiceGroup(gracefulShutdownSignals: [])
    let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
    do {
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else {
                Issue.record("The proxy did not start")
                return
            }
            let client = ProxyClient(
                http: http, port: port, mesh: mesh, server: server, shutdown: { await group.triggerGracefulShutdown() })
            do {
                try await body(client)
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
        throw error
    }
    try await http.shutdown()
}

/// Two chat models, `vendor.alpha` then `vendor.beta`.
func twoModels(
    _ alpha: MockProvider = MockProvider(), _ beta: MockProvider = MockProvider(fallback: .reply("from beta"))
)
    -> TestMesh
{
    TestMesh(models: [("vendor.alpha", alpha), ("vendor.beta", beta)])
}

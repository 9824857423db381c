import Foundation
import ModelMesh
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A local HTTP/1.1 server that plays an AI provider: scripted answers, exact vendor error
/// bodies, event streams, and the network faults real upstreams produce.
///
/// It binds to `127.0.0.1` on a free port. Each request takes the next scripted response of
/// its path (FIFO), else one scripted for any path, else the path's default, else the global
/// default, else a 404 saying nothing was scripted. Every request is recorded for assertions.
///
/// ```swift
/// let fake = try await FakeUpstream.start()
/// fake.enqueue(.openAIChatCompletion(content: "Hi"), for: "/v1/chat/completions")
/// fake.enqueue(.openAIStream(pieces: ["a", "b"], ending: .cut), for: "/v1/chat/completions")
/// fake.enqueue(.silence, for: "/v1/chat/completions")
/// // point a provider at fake.baseURL + "/v1" ...
/// #expect(fake.requests.first?.header("authorization") == "Bearer sk-test")
/// try await fake.shutdown()
/// ```
public final class FakeUpstream: Sendable {
    /// Counters of what happened on the wire so far.
    public struct Activity: Sendable, Hashable {
        /// Requests received completely.
        public var requests: Int = 0
        /// Connections accepted.
        public var acceptedConnections: Int = 0
        /// Connections closed (by either side).
        public var closedConnections: Int = 0
        /// Connections the client closed while a response was still pending or being sent
        /// (a cancelled stream, a client-side timeout during a stall or a silence).
        public var abortedResponses: Int = 0
        /// Stream events whose bytes were handed to the socket (a client that stops reading
        /// holds this back once the socket buffers are full).
        public var writtenEvents: Int = 0
    }

    /// The port the server listens on.
    public let port: Int
    /// Whether it speaks HTTPS.
    public let usesTLS: Bool
    private let core: FakeUpstreamCore
    private let serverChannel: any Channel

    private init(port: Int, usesTLS: Bool, core: FakeUpstreamCore, serverChannel: any Channel) {
        self.port = port
        self.usesTLS = usesTLS
        self.core = core
        self.serverChannel = serverChannel
    }

    /// Starts a server on `127.0.0.1` and a free port; with `tls`, it speaks HTTPS with that
    /// server context (see ``TestCertificateAuthority``).
    public static func start(tls: NIOSSLContext? = nil) async throws -> FakeUpstream {
        let core = FakeUpstreamCore()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let id = core.connectionOpened(channel)
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(FakeUpstreamHandler(core: core, connectionID: id))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        guard let port = channel.localAddress?.port else {
            try? await channel.close()
            throw FakeUpstreamError(message: "The server socket has no port")
        }
        return FakeUpstream(port: port, usesTLS: tls != nil, core: core, serverChannel: channel)
    }

    /// `http://127.0.0.1:<port>` (`https` with TLS; no path: add the vendor's version path
    /// yourself).
    public var baseURL: String { "\(usesTLS ? "https" : "http")://127.0.0.1:\(port)" }

    /// `baseURL` + `path`.
    public func url(_ path: String) -> String { baseURL + path }

    // MARK: Scripting

    /// Queues `response` for the next request to `path` (path without query), or to any path
    /// when `path` is `nil`.
    public func enqueue(_ response: FakeResponse, for path: String? = nil) {
        core.enqueue([response], for: path)
    }

    /// Queues `responses` in order.
    public func enqueue(_ responses: [FakeResponse], for path: String? = nil) {
        core.enqueue(responses, for: path)
    }

    /// The answer when nothing is queued: for `path`, or for every path when `path` is `nil`.
    public func setDefault(_ response: FakeResponse?, for path: String? = nil) {
        core.setDefault(response, for: path)
    }

    /// Scripted responses not yet used: for `path`, or queued for any path when `nil`.
    public func pendingResponses(for path: String? = nil) -> Int {
        core.pending(for: path)
    }

    // MARK: Observing

    /// Every request received, in arrival order.
    public var requests: [RecordedRequest] { core.requests }

    /// The requests to `path` (path without query).
    public func requests(to path: String) -> [RecordedRequest] { requests.filter { $0.path == path } }

    /// The most recent request.
    public var lastRequest: RecordedRequest? { requests.last }

    /// What happened on the wire so far.
    public var activity: Activity { core.activity }

    /// Suspends until `condition` holds for the activity counters (or the task is cancelled).
    public func wait(until condition: @escaping @Sendable (Activity) -> Bool) async {
        await core.wait(until: condition)
    }

    /// Suspends until at least `count` requests arrived.
    public func waitForRequests(_ count: Int) async {
        await wait { $0.requests >= count }
    }

    /// Suspends until at least `count` responses were aborted by the client.
    public func waitForAbortedResponses(_ count: Int) async {
        await wait { $0.abortedResponses >= count }
    }

    /// Suspends until at least `count` connections were closed.
    public func waitForClosedConnections(_ count: Int) async {
        await wait { $0.closedConnections >= count }
    }

    // MARK: Lifecycle

    /// Stops listening and closes every connection, stalled and silent ones included.
    public func shutdown() async throws {
        try? await serverChannel.close()
        for channel in core.shutdown() {
            try? await channel.close()
        }
    }
}

/// A failure of the fake server itself.
public struct FakeUpstreamError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { "FakeUpstream: \(message)" }
}

/// The state shared by the server and its connection handlers.
final class FakeUpstreamCore: Sendable {
    private struct Waiter {
        var condition: @Sendable (FakeUpstream.Activity) -> Bool
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var queues: [String: [FakeResponse]] = [:]
        var anyPathQueue: [FakeResponse] = []
        var defaults: [String: FakeResponse] = [:]
        var fallback: FakeResponse?
        var requests: [RecordedRequest] = []
        var connections: [Int: any Channel] = [:]
        var nextConnectionID = 1
        var activity = FakeUpstream.Activity()
        var waiters: [Int: Waiter] = [:]
        var nextWaiterID = 0
        var isShutDown = false
    }

    private let state = Mutex(State())

    func enqueue(_ responses: [FakeResponse], for path: String?) {
        state.withLock { state in
            if let path {
                state.queues[path, default: []].append(contentsOf: responses)
            } else {
                state.anyPathQueue.append(contentsOf: responses)
            }
        }
    }

    func setDefault(_ response: FakeResponse?, for path: String?) {
        state.withLock { state in
            if let path { state.defaults[path] = response } else { state.fallback = response }
        }
    }

    func pending(for path: String?) -> Int {
        state.withLock { state in path.map { state.queues[$0]?.count ?? 0 } ?? state.anyPathQueue.count }
    }

    var requests: [RecordedRequest] { state.withLock { $0.requests } }

    var activity: FakeUpstream.Activity { state.withLock { $0.activity } }

    /// Records `request` and takes the response scripted for it.
    func receive(_ request: RecordedRequest) -> FakeResponse {
        let path = request.path
        let response = update { state -> FakeResponse in
            state.requests.append(request)
            state.activity.requests += 1
            if var queue = state.queues[path], !queue.isEmpty {
                let next = queue.removeFirst()
                state.queues[path] = queue
                return next
            }
            if !state.anyPathQueue.isEmpty { return state.anyPathQueue.removeFirst() }
            if let response = state.defaults[path] ?? state.fallback { return response }
            let message = "FakeUpstream: no response scripted for \(request.method) \(path)"
            let body: JSONValue = [
                "error": ["message": .string(message), "type": "fake_upstream", "code": "no_script", "param": nil]
            ]
            return .json(encoding: body, status: 404)
        }
        return response
    }

    func connectionOpened(_ channel: any Channel) -> Int {
        update { state -> Int in
            let id = state.nextConnectionID
            state.nextConnectionID += 1
            state.activity.acceptedConnections += 1
            if state.isShutDown {
                channel.close(promise: nil)
            } else {
                state.connections[id] = channel
            }
            return id
        }
    }

    func eventWritten() {
        update { $0.activity.writtenEvents += 1 }
    }

    func connectionClosed(_ id: Int, abortedResponse: Bool) {
        update { state in
            state.connections[id] = nil
            state.activity.closedConnections += 1
            if abortedResponse { state.activity.abortedResponses += 1 }
        }
    }

    func wait(until condition: @escaping @Sendable (FakeUpstream.Activity) -> Bool) async {
        let id = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let satisfied = state.withLock { state -> Bool in
                    if condition(state.activity) || state.isShutDown || Task.isCancelled { return true }
                    state.waiters[id] = Waiter(condition: condition, continuation: continuation)
                    return false
                }
                if satisfied { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume()
        }
    }

    /// Marks the server shut down, releases every waiter and returns the open connections.
    func shutdown() -> [any Channel] {
        let (channels, waiters) = state.withLock { state in
            state.isShutDown = true
            let waiters = state.waiters.values.map(\.continuation)
            state.waiters.removeAll()
            return (Array(state.connections.values), waiters)
        }
        for waiter in waiters { waiter.resume() }
        return channels
    }

    /// Applies `change` and resumes the waiters whose condition now holds.
    private func update<T: Sendable>(_ change: (inout State) -> T) -> T {
        let (result, ready) = state.withLock { state -> (T, [CheckedContinuation<Void, Never>]) in
            let result = change(&state)
            var ready: [CheckedContinuation<Void, Never>] = []
            for (id, waiter) in state.waiters where waiter.condition(state.activity) {
                ready.append(waiter.continuation)
                state.waiters[id] = nil
            }
            return (result, ready)
        }
        for continuation in ready { continuation.resume() }
        return result
    }
}

import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// Keep-alive HTTP/1.1 connections to upstreams, one pool per event loop.
///
/// A request runs on the loop it was made from (the proxy's connection's loop), over a
/// connection that lives on the same loop: no lock and no thread hop between reading the
/// client's request and writing the upstream's. Each loop's pool keeps, per endpoint:
/// - idle connections, reused most-recent first and closed after the idle timeout;
/// - at most `maximumConnectionsPerHost` connections; a request beyond it waits in a queue
///   for the next connection to come back (its deadline still applies while it waits).
final class UpstreamConnectionPool: Sendable {
    struct Settings: Sendable {
        var maximumConnectionsPerHost: Int
        var connectTimeout: TimeAmount
        var idleTimeout: TimeAmount
        /// For `https` endpoints.
        var tls: TLSConfiguration
    }

    let group: any EventLoopGroup
    private let tls: TLSContext
    private let pools: [ObjectIdentifier: UpstreamLoopPool]
    private let fallback: [UpstreamLoopPool]

    init(group: any EventLoopGroup, settings: Settings) {
        self.group = group
        let tls = TLSContext(configuration: settings.tls)
        self.tls = tls
        var pools: [ObjectIdentifier: UpstreamLoopPool] = [:]
        var all: [UpstreamLoopPool] = []
        for eventLoop in group.makeIterator() {
            let pool = UpstreamLoopPool(eventLoop: eventLoop, settings: settings, tls: tls)
            pools[ObjectIdentifier(eventLoop)] = pool
            all.append(pool)
        }
        self.pools = pools
        fallback = all
    }

    /// The pool of the calling thread's event loop. A caller on none of the group's loops
    /// (a task of the library's user) is served by one loop per endpoint, so its requests to
    /// one upstream share keep-alive connections.
    func pool(for endpoint: UpstreamEndpoint) -> UpstreamLoopPool {
        if let current = MultiThreadedEventLoopGroup.currentEventLoop, let pool = pools[ObjectIdentifier(current)] {
            return pool
        }
        var hasher = Hasher()
        hasher.combine(endpoint)
        return fallback[Int(UInt(bitPattern: hasher.finalize()) % UInt(fallback.count))]
    }

    /// Closes every idle connection and fails every waiting request; connections in use close
    /// when their request ends. Later requests fail.
    func shutdown() async {
        for pool in fallback {
            try? await pool.eventLoop.flatSubmit { pool.shutdown() }.get()
        }
    }
}

/// The TLS context, made on first use: loading the system's trust roots costs milliseconds
/// and memory a transport that only speaks plain HTTP never needs.
final class TLSContext: Sendable {
    private let configuration: TLSConfiguration
    private let made = Mutex<Result<NIOSSLContext, UpstreamCallError>?>(nil)

    init(configuration: TLSConfiguration) {
        self.configuration = configuration
    }

    func context() throws -> NIOSSLContext {
        try made.withLock { made in
            if let made { return made }
            let result: Result<NIOSSLContext, UpstreamCallError>
            do {
                result = .success(try NIOSSLContext(configuration: configuration))
            } catch {
                result = .failure(.tlsUnavailable(String(describing: error)))
            }
            made = result
            return result
        }.get()
    }
}

/// The connections of one event loop. Used only on ``eventLoop``.
final class UpstreamLoopPool: @unchecked Sendable {
    private struct Host {
        var idle: [UpstreamConnection] = []
        /// Open and opening connections.
        var open = 0
        var waiters = CircularBuffer<UpstreamCall>()
    }

    let eventLoop: any EventLoop
    private let settings: UpstreamConnectionPool.Settings
    private let tls: TLSContext
    private var hosts: [UpstreamEndpoint: Host] = [:]
    private var isShutDown = false

    init(eventLoop: any EventLoop, settings: UpstreamConnectionPool.Settings, tls: TLSContext) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.tls = tls
    }

    /// Connections open (idle or in use) and idle, per endpoint: for tests and state pages.
    func counts(_ endpoint: UpstreamEndpoint) -> (open: Int, idle: Int, waiting: Int) {
        eventLoop.assertInEventLoop()
        let host = hosts[endpoint]
        return (host?.open ?? 0, host?.idle.count ?? 0, host?.waiters.count ?? 0)
    }

    /// Gives `call` a connection: an idle one (unless `fresh`), a new one within the limit,
    /// or the next one that comes back.
    func acquire(for call: UpstreamCall, fresh: Bool) {
        eventLoop.assertInEventLoop()
        guard !isShutDown else {
            call.connectionFailed(UpstreamCallError.shutDown)
            return
        }
        let endpoint = call.endpoint
        var host = hosts[endpoint, default: Host()]
        if !fresh {
            while let connection = host.idle.popLast() {
                // Its idle check stays armed: it finds the connection in use and stands down.
                connection.idleSince = nil
                if connection.channel.isActive {
                    hosts[endpoint] = host
                    call.run(on: connection)
                    return
                }
            }
        }
        if host.open < max(1, settings.maximumConnectionsPerHost) {
            host.open += 1
            hosts[endpoint] = host
            connect(endpoint, for: call)
        } else if fresh, !host.idle.isEmpty {
            // A new connection is needed at the limit: closing the oldest idle one frees the
            // slot, and this call is first in line for it.
            let stale = host.idle.removeFirst()
            host.waiters.prepend(call)
            hosts[endpoint] = host
            stale.idleTimer?.cancel()
            stale.idleTimer = nil
            stale.close()
        } else {
            if fresh { host.waiters.prepend(call) } else { host.waiters.append(call) }
            hosts[endpoint] = host
        }
    }

    /// `connection`'s request ended. A reusable connection goes to the next waiter or idles;
    /// any other is closed (its slot is given up when it has closed).
    func release(_ connection: UpstreamConnection, reusable: Bool) {
        eventLoop.assertInEventLoop()
        guard reusable, !isShutDown, connection.channel.isActive else {
            connection.close()
            return
        }
        let endpoint = connection.endpoint
        while let waiter = hosts[endpoint]?.waiters.popFirst() {
            if waiter.isWaiting {
                waiter.run(on: connection)
                return
            }
        }
        hosts[endpoint, default: Host()].idle.append(connection)
        connection.idleSince = .now()
        if connection.idleTimer == nil { armIdleCheck(connection, in: settings.idleTimeout) }
    }

    /// Closes `connection` once it has been idle for the idle timeout: checks after `delay`,
    /// and again for the rest when it was used meanwhile. A connection in use when the check
    /// fires is checked again when it comes back.
    private func armIdleCheck(_ connection: UpstreamConnection, in delay: TimeAmount) {
        connection.idleTimer = eventLoop.scheduleTask(in: delay) { [weak self, weak connection] in
            guard let self, let connection else { return }
            connection.idleTimer = nil
            guard let since = connection.idleSince else { return }
            let left = since + settings.idleTimeout - .now()
            if left.nanoseconds <= 0 {
                connection.close()
            } else {
                armIdleCheck(connection, in: left)
            }
        }
    }

    private func connect(_ endpoint: UpstreamEndpoint, for call: UpstreamCall) {
        let handler = UpstreamClientHandler()
        let tls = self.tls
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(settings.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let operations = channel.pipeline.syncOperations
                    if endpoint.tls {
                        let context = try tls.context()
                        let name = endpoint.hostIsAddress ? nil : endpoint.host
                        try operations.addHandler(NIOSSLClientHandler(context: context, serverHostname: name))
                    }
                    try operations.addHTTPClientHandlers()
                    try operations.addHandler(handler)
                }
            }
        bootstrap.connect(host: endpoint.host, port: endpoint.port).whenComplete { [self] result in
            switch result {
            case .success(let channel):
                let connection = UpstreamConnection(channel: channel, handler: handler, endpoint: endpoint)
                handler.connection = connection
                channel.closeFuture.whenComplete { [self] _ in closed(connection) }
                if isShutDown {
                    connection.close()
                    call.connectionFailed(UpstreamCallError.shutDown)
                } else if call.isWaiting {
                    call.run(on: connection)
                } else {
                    release(connection, reusable: true)
                }
            case .failure(let error):
                hosts[endpoint, default: Host()].open -= 1
                call.connectionFailed(error)
                serveNextWaiter(endpoint)
            }
        }
    }

    /// A connection closed (either side): its slot is free again.
    private func closed(_ connection: UpstreamConnection) {
        let endpoint = connection.endpoint
        connection.idleTimer?.cancel()
        connection.idleTimer = nil
        guard var host = hosts[endpoint] else { return }
        host.open -= 1
        host.idle.removeAll { $0 === connection }
        hosts[endpoint] = host
        serveNextWaiter(endpoint)
    }

    /// Opens a connection for the first live waiter, when there is room.
    private func serveNextWaiter(_ endpoint: UpstreamEndpoint) {
        guard !isShutDown, var host = hosts[endpoint] else { return }
        while let waiter = host.waiters.first, !waiter.isWaiting { host.waiters.removeFirst() }
        guard let waiter = host.waiters.first, host.open < max(1, settings.maximumConnectionsPerHost) else {
            hosts[endpoint] = host
            return
        }
        host.waiters.removeFirst()
        host.open += 1
        hosts[endpoint] = host
        connect(endpoint, for: waiter)
    }

    fileprivate func shutdown() -> EventLoopFuture<Void> {
        isShutDown = true
        var closing: [EventLoopFuture<Void>] = []
        for (endpoint, var host) in hosts {
            for connection in host.idle {
                connection.idleTimer?.cancel()
                closing.append(connection.channel.close())
            }
            host.idle.removeAll()
            let waiters = host.waiters
            host.waiters.removeAll()
            hosts[endpoint] = host
            for waiter in waiters { waiter.connectionFailed(UpstreamCallError.shutDown) }
        }
        return EventLoopFuture.andAllComplete(closing, on: eventLoop)
    }
}

import BenchCommandLine
import AsyncHTTPClient
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `modelmesh-passthrough`: the floor of the proxy benchmark (`scripts/bench`).
///
/// A pass-through with no routing and no JSON, its server and upstream client each either bare
/// SwiftNIO or the library ModelMesh builds on (Hummingbird 2, AsyncHTTPClient): what a proxy
/// on that stack costs before it does any work of its own.
@main
enum Passthrough {
    static func main() async throws {
        let options = parseCommandLine(
            PassthroughOptions.parse, program: "modelmesh-passthrough", usage: PassthroughOptions.usage)

        let group = options.threads.map { MultiThreadedEventLoopGroup(numberOfThreads: $0) } ?? .singleton
        let ahc = options.client == .ahc ? HTTPClient.passthrough(on: group) : nil
        let base = "http://\(options.upstreamHost):\(options.upstreamPort)"
        let pool = { NIOUpstream(group: group, host: options.upstreamHost, port: options.upstreamPort) }
        let backlog = 4096  // thousands of streams connect within a second

        switch options.server {
        case .nio:
            let upstream: any Upstream = ahc.map { AHCUpstream(client: $0, base: base) } ?? pool()
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: Int32(backlog))
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(
                            NIOForwardingHandler(upstream: upstream, allocator: channel.allocator))
                    }
                }
                .bind(host: options.host, port: options.port)
                .get()
            writeLine("listening on \(options.host):\(channel.localAddress?.port ?? options.port)")
            try await channel.closeFuture.get()
        case .hummingbird:
            let client: ForwardingResponder.Client = ahc.map { .ahc($0, base: base) } ?? .pool(pool())
            let host = options.host
            let application = Application(
                responder: ForwardingResponder(client: client),
                configuration: ApplicationConfiguration(
                    address: .hostname(host, port: options.port), serverName: nil, backlog: backlog),
                onServerRunning: { channel in writeLine("listening on \(host):\(channel.localAddress?.port ?? 0)") },
                eventLoopGroupProvider: .shared(group))
            try await application.runService()
        }
        try await ahc?.shutdown()
    }
}

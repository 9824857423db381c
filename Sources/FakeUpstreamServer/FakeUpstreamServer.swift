import BenchCommandLine
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `modelmesh-fake-upstream`: a fast fake OpenAI upstream for the proxy benchmark.
///
/// One process, a fixed answer, no work per request beyond HTTP parsing: calling it directly is
/// the baseline that proxy overhead is measured against (`scripts/bench`).
@main
enum FakeUpstreamServer {
    static func main() throws {
        let options = parseCommandLine(
            FakeUpstreamOptions.parse, program: "modelmesh-fake-upstream", usage: FakeUpstreamOptions.usage)

        let canned = CannedResponses(chunkCount: options.chunks, heldChunkCount: options.heldChunks)
        let interval = TimeAmount.milliseconds(Int64(options.intervalMilliseconds))
        let heldInterval = TimeAmount.milliseconds(Int64(options.heldIntervalMilliseconds))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: options.threads)
        let channel = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        CompletionHandler(
                            canned: canned, interval: interval, heldInterval: heldInterval,
                            allocator: channel.allocator))
                }
            }
            .bind(host: options.host, port: options.port)
            .wait()
        let port = channel.localAddress?.port ?? options.port
        writeLine("listening on \(options.host):\(port)")
        try channel.closeFuture.wait()
        try group.syncShutdownGracefully()
    }
}

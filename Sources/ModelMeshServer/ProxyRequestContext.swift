import Hummingbird
import NIOCore

/// The request context of the proxy: Hummingbird's core context plus the request id, the
/// client address and a way to tell that the client went away.
public struct ProxyRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The request id: the client's `x-request-id` when it sent a usable one, else generated.
    public var requestID: String
    /// The client's IP address (the key of per-client rate limits), if known. Formatted when
    /// asked for: most requests never need it.
    public var clientAddress: String? { channel.remoteAddress?.ipAddress }
    /// The client's connection (where ``ClientDisconnectWatcher`` is found when needed).
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        requestID = ""
        channel = source.channel
    }
}

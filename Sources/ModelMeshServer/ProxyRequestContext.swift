import Hummingbird
import NIOCore

/// The request context of the proxy: Hummingbird's core context plus the request id and
/// the client address.
public struct ProxyRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The request id: the client's `x-request-id` when it sent a usable one, else generated.
    public var requestID: String
    /// The client's IP address (the key of per-client rate limits), if known.
    public let clientAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        requestID = ""
        clientAddress = source.channel.remoteAddress?.ipAddress
    }
}

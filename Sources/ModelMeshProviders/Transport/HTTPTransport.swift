import Foundation
import Logging
import ModelMesh
import NIOCore
import NIOPosix
import NIOHTTP1
import NIOSSL

/// The HTTP client every built-in connector sends through: keep-alive HTTP/1.1 connections on
/// SwiftNIO, pooled per event loop, shared by all providers of a registry (or a process).
///
/// A request is sent from the event loop it was made on, over a connection of that loop, so
/// the proxy reads a client's request, calls the upstream and answers on one thread. HTTPS
/// uses NIOSSL with the system's trust roots (plus ``Configuration/additionalTrustRoots``)
/// and verifies the host name.
///
/// Create one, hand it to ``BuiltInProviders/make(_:transport:)`` for each provider, and call
/// ``shutdown()`` once at the end.
///
/// ```swift
/// let transport = HTTPTransport()
/// let openAI = try BuiltInProviders.make(config, transport: transport)
/// // ...
/// try await transport.shutdown()
/// ```
public final class HTTPTransport: Sendable {
    /// Settings of the shared client.
    public struct Configuration: Sendable {
        /// Concurrent HTTP/1.1 connections per upstream host and event loop; a request beyond
        /// it waits for a connection to come back. Each in-flight request and stream holds one
        /// connection for its whole length, so this bounds the streams one upstream can carry
        /// at once: the proxy is meant to carry thousands (the client connections, and the
        /// process's open-file limit, bound it before this does).
        public var maximumConnectionsPerHost: Int = 8192
        /// Bound on establishing a connection; the attempt deadline usually cuts it earlier.
        public var connectTimeout: Duration = .seconds(10)
        /// How long an idle pooled connection is kept.
        public var idleConnectionTimeout: Duration = .seconds(60)
        /// The most of an error body that is read (the rest is dropped).
        public var maximumErrorBodySize: Int = 64 * 1024
        /// The largest successful non-streamed body accepted.
        public var maximumResponseBodySize: Int = 64 * 1024 * 1024
        /// The largest server-sent event, or line of one, accepted in a stream.
        public var maximumEventSize: Int = 16 * 1024 * 1024
        /// How long one upstream stream may last from its head (nil: as long as it is lively).
        public var maximumStreamDuration: Duration? = nil
        /// PEM files of certificate authorities trusted for HTTPS besides the system's (a
        /// private CA in front of a self-hosted model server).
        public var additionalTrustRoots: [String] = []

        public init() {}

        /// The proxy's upstream limits (`proxy.limits.max_upstream_body`, `max_sse_event`,
        /// `max_stream_duration`) over the defaults.
        public init(limits: ProxyConfiguration.Limits) {
            maximumResponseBodySize = limits.maxUpstreamBody
            maximumEventSize = limits.maxSSEEvent
            maximumStreamDuration = limits.maxStreamDuration
        }
    }

    /// The configuration the transport was created with.
    public let configuration: Configuration
    let pool: UpstreamConnectionPool
    let logger: Logger

    /// Creates a transport with its own connections on the shared NIO event loops.
    public init(configuration: Configuration = .init(), logger: Logger = Logger(label: "modelmesh.providers.http")) {
        self.configuration = configuration
        self.logger = logger
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.additionalTrustRoots = configuration.additionalTrustRoots.map { .file($0) }
        pool = UpstreamConnectionPool(
            group: MultiThreadedEventLoopGroup.singleton,
            settings: .init(
                maximumConnectionsPerHost: configuration.maximumConnectionsPerHost,
                connectTimeout: TimeAmount(configuration.connectTimeout),
                idleTimeout: TimeAmount(configuration.idleConnectionTimeout),
                tls: tls))
    }

    /// Closes every pooled connection. Call once, when no request is in flight any more.
    public func shutdown() async throws {
        await pool.shutdown()
    }
}

// MARK: - Requests and responses

/// An HTTP request to an upstream.
package struct UpstreamRequest: Sendable {
    package var method: HTTPMethod
    /// The full URL, query included.
    package var url: String
    package var headers: HTTPHeaders
    package var body: ByteBuffer?
    /// Values (API keys) scrubbed from every error message the transport produces.
    package var redactions: [String]
    /// Where the rate-limit headers are.
    package var rateLimitHeaders: RateLimitHeaderNames
    /// The engine's clock: rate-limit reset durations are counted from its `now()`.
    package var clock: any MeshClock

    package init(
        method: HTTPMethod = .POST, url: String, headers: HTTPHeaders = [:], body: ByteBuffer? = nil,
        redactions: [String] = [], rateLimitHeaders: RateLimitHeaderNames = .openAI,
        clock: any MeshClock = SystemClock()
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.redactions = redactions.filter { !$0.isEmpty }
        self.rateLimitHeaders = rateLimitHeaders
        self.clock = clock
    }

    /// A JSON request: `value` encoded as the body, `content-type` and `accept` set.
    package static func json(
        _ value: some Encodable, url: String, headers: HTTPHeaders = [:], redactions: [String] = [],
        rateLimitHeaders: RateLimitHeaderNames = .openAI, clock: any MeshClock = SystemClock()
    ) throws -> UpstreamRequest {
        let data: Data
        do {
            data = try JSONEncoder().encode(value)
        } catch {
            throw ProviderError(.invalidRequest, message: "The request could not be encoded: \(error)")
        }
        var headers = headers
        if !headers.contains(name: "content-type") { headers.add(name: "content-type", value: "application/json") }
        return UpstreamRequest(
            url: url, headers: headers, body: ByteBuffer(bytes: data), redactions: redactions,
            rateLimitHeaders: rateLimitHeaders, clock: clock)
    }

    /// Where the request goes and its head as sent (throws on a malformed URL).
    func wireHead() throws -> (UpstreamEndpoint, HTTPRequestHead) {
        let target = try UpstreamTarget.cached(url)
        var headers = headers
        // A traced attempt names its span as the upstream's parent.
        MeshTracing.injectAttemptContext(into: &headers, using: TraceHeadersInjector())
        return (target.endpoint, HTTPRequestHead(version: .http1_1, method: method, uri: target.uri, headers: headers))
    }

    /// `text` with every redacted value replaced.
    package func redact(_ text: String) -> String {
        var text = text
        for secret in redactions where text.contains(secret) {
            text = text.replacingOccurrences(of: secret, with: "<redacted>")
        }
        return text
    }

    /// `error` with its message scrubbed.
    package func redact(_ error: ProviderError) -> ProviderError {
        var error = error
        error.message = redact(error.message)
        if let code = error.vendorCode { error.vendorCode = redact(code) }
        return error
    }
}

/// A complete upstream response, any status.
package struct UpstreamResponse: Sendable {
    package var status: Int
    package var headers: HTTPHeaders
    /// The body (for errors, at most the configured error-body size).
    package var body: ByteBuffer
    /// What the `x-ratelimit-*` (or vendor) headers said.
    package var rateLimit: RateLimitStatus?
    /// `Retry-After` / `retry-after-ms`.
    package var retryAfter: Duration?

    package init(
        status: Int, headers: HTTPHeaders, body: ByteBuffer, rateLimit: RateLimitStatus? = nil,
        retryAfter: Duration? = nil
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.rateLimit = rateLimit
        self.retryAfter = retryAfter
    }

    /// Whether the status is 2xx.
    package var isSuccess: Bool { (200..<300).contains(status) }

    /// The body as text (lossy UTF-8).
    package var bodyText: String { String(buffer: body) }

    /// The body as bytes (one copy of the contiguous bytes; `Data(readableBytesView)` would
    /// go through a dynamic cast and a generic sequence copy).
    package var bodyData: Data { body.withUnsafeReadableBytes { Data($0) } }

    /// A ``ProviderError`` for this response classified by status alone, with its
    /// `Retry-After` and rate limits; connectors refine the class and message from the body.
    package func error(
        _ errorClass: ProviderErrorClass? = nil, message: String? = nil, vendorCode: String? = nil
    ) -> ProviderError {
        let text = message ?? (bodyText.isEmpty ? "HTTP \(status)" : String(bodyText.prefix(1000)))
        return ProviderError(
            errorClass ?? .from(status: status), status: status, message: text, retryAfter: retryAfter,
            rateLimit: rateLimit, vendorCode: vendorCode)
    }
}

/// A streamed upstream response whose head was 2xx, decoded into `Element`s.
package struct UpstreamEventStream<Element: Sendable>: Sendable {
    package var status: Int
    package var headers: HTTPHeaders
    package var rateLimit: RateLimitStatus?
    /// Finishes normally only when the decoder saw the end marker (or accepted the end of the
    /// body); throws a ``ProviderError`` otherwise.
    package var elements: AsyncThrowingStream<Element, any Error>
}

// MARK: - The attempt budget

extension AttemptContext {
    /// The time left for an attempt: the smaller of `timeout` and what remains until the
    /// context's deadline (measured on the context's clock).
    package func budget(timeout: Duration) -> Duration {
        let remaining = Duration.seconds(deadline.timeIntervalSince(clock.now()))
        return min(timeout, remaining)
    }
}

// MARK: - Sending

extension HTTPTransport {
    /// Sends `request` and reads the whole response, whatever its status, within `budget`
    /// (connect to last byte).
    ///
    /// Throws a ``ProviderError``: `.timeout` when the budget runs out, `.connection` when the
    /// connection fails, `.cancelled` when the calling task is cancelled.
    package func send(_ request: UpstreamRequest, budget: Duration) async throws -> UpstreamResponse {
        guard budget > .zero else {
            throw ProviderError(.timeout, message: "The attempt deadline passed before the request was sent")
        }
        do {
            let (endpoint, head) = try request.wireHead()
            let pool = self.pool.pool(for: endpoint)
            let promise = pool.eventLoop.makePromise(of: ResponseCollector.Response.self)
            let collector = ResponseCollector(
                limit: configuration.maximumResponseBodySize, errorLimit: configuration.maximumErrorBodySize,
                promise: promise)
            let call = UpstreamCall(pool: pool, endpoint: endpoint, head: head, body: request.body, receiver: collector)
            // The deadline covers waiting for a connection, connecting and the whole body.
            call.start(deadline: .now() + TimeAmount(budget), timeoutError: { BudgetExceeded() })
            let response = try await withTaskCancellationHandler {
                try await promise.futureResult.get()
            } onCancel: {
                call.cancel(with: CancellationError())
            }
            return makeResponse(
                status: Int(response.head.status.code), headers: response.head.headers, body: response.body,
                request: request)
        } catch {
            throw failed(request, Self.classifyTransportError(error, afterHead: false, budget: budget))
        }
    }

    /// Logs a transport failure (no headers, URL and message scrubbed) and returns it scrubbed.
    private func failed(_ request: UpstreamRequest, _ error: ProviderError) -> ProviderError {
        let error = request.redact(error)
        if error.errorClass != .cancelled {
            logger.debug(
                "Upstream request failed",
                metadata: [
                    "url": "\(request.redact(request.url))", "class": "\(error.errorClass.rawValue)",
                    "message": "\(error.message)",
                ])
        }
        return error
    }

    /// Sends `request` and returns once the response head arrived (within `headBudget`);
    /// the body is then parsed as server-sent events and fed through `decoder`.
    ///
    /// - A non-2xx status is read (capped) and turned into an error by `failure`.
    /// - A body silent for longer than `idleTimeout` fails the stream with `.timeout`.
    /// - Terminating the returned stream (the consumer cancelled or dropped it) cancels the
    ///   upstream request and closes its connection.
    /// - `deadlines` (the routing's first-token and idle deadlines) fail the stream with
    ///   `.timeout` when no element (no output element, before the first) arrives in time.
    /// - `onInvalidEvent` sees every event the decoder rejected as undecodable.
    package func openEventStream<Decoder: SSEEventDecoder>(
        _ request: UpstreamRequest, headBudget: Duration, idleTimeout: Duration, decoder: Decoder,
        deadlines: StreamDeadlines? = nil,
        carriesOutput: @escaping @Sendable (Decoder.Element) -> Bool = { _ in true },
        onInvalidEvent: @escaping @Sendable (SSEEvent) -> Void = { _ in },
        failure: @escaping @Sendable (UpstreamResponse) -> ProviderError
    ) async throws -> UpstreamEventStream<Decoder.Element> {
        guard headBudget > .zero else {
            throw ProviderError(.timeout, message: "The attempt deadline passed before the request was sent")
        }
        let delegate = EventStreamDelegate(
            decoder: decoder,
            settings: .init(
                headBudget: headBudget, idleTimeout: idleTimeout, deadlines: deadlines,
                errorLimit: configuration.maximumErrorBodySize, maxEventSize: configuration.maximumEventSize,
                maxDuration: configuration.maximumStreamDuration, request: request, carriesOutput: carriesOutput,
                onInvalidEvent: onInvalidEvent))
        let produced = delegate.makeElements()
        let opening: EventStreamDelegate<Decoder>.Opening
        do {
            let (endpoint, head) = try request.wireHead()
            let call = UpstreamCall(
                pool: pool.pool(for: endpoint), endpoint: endpoint, head: head, body: request.body, receiver: delegate)
            opening = try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { opened in
                    delegate.awaitOpening(opened)
                    delegate.start(call)
                }
            } onCancel: {
                delegate.cancel()
            }
        } catch {
            delegate.cancel()
            throw failed(request, Self.classifyTransportError(error, afterHead: false, budget: headBudget))
        }
        switch opening {
        case .rejected(let head, let body):
            delegate.cancel()
            let upstream = makeResponse(
                status: Int(head.status.code), headers: head.headers, body: body, request: request)
            throw request.redact(failure(upstream))
        case .stream(let head):
            // Dropping or cancelling the consumer ends the producer, which cancels the request.
            let iterator = ElementIterator(produced.makeAsyncIterator())
            return UpstreamEventStream(
                status: Int(head.status.code), headers: head.headers,
                rateLimit: RateLimitHeaders.parse(head.headers, names: request.rateLimitHeaders, now: request.clock.now()),
                elements: AsyncThrowingStream(unfolding: { try await iterator.next() }))
        }
    }

    private func makeResponse(status: Int, headers: HTTPHeaders, body: ByteBuffer, request: UpstreamRequest)
        -> UpstreamResponse
    {
        UpstreamResponse(
            status: status, headers: headers, body: body,
            rateLimit: RateLimitHeaders.parse(headers, names: request.rateLimitHeaders, now: request.clock.now()),
            retryAfter: RateLimitHeaders.retryAfter(headers, now: Date()))
    }

    /// Maps an error of the HTTP stack to a classified ``ProviderError``.
    ///
    /// Failures before the head are connection problems; after the head (a body cut short)
    /// they are interruptions.
    static func classifyTransportError(_ error: any Error, afterHead: Bool, budget: Duration?) -> ProviderError {
        if let error = error as? ProviderError { return error }
        let within = budget.map { " within \(format($0))" } ?? ""
        if error is BudgetExceeded {
            return ProviderError(.timeout, message: "The upstream did not answer\(within)")
        }
        if error is CancellationError {
            return ProviderError(.cancelled, message: "The request was cancelled")
        }
        let broken: ProviderErrorClass = afterHead ? .streamInterrupted : .connection
        if let error = error as? UpstreamCallError {
            switch error {
            case .cancelled: return ProviderError(.cancelled, message: error.description)
            case .shutDown, .tlsUnavailable: return ProviderError(.unknown, message: error.description)
            case .closedBeforeResponse, .closedMidResponse: return ProviderError(broken, message: error.description)
            }
        }
        if let error = error as? ChannelError, case .connectTimeout = error {
            return ProviderError(.timeout, message: "Could not connect to the upstream\(within)")
        }
        if let error = error as? UpstreamTarget.Invalid {
            return ProviderError(.unknown, message: error.description)
        }
        if error is NIOTooManyBytesError || error is ResponseCollector.TooLarge {
            return ProviderError(
                .serverError, message: "The upstream response was larger than allowed (proxy.limits.max_upstream_body)")
        }
        if error is SSEParserError {
            return ProviderError(.streamInterrupted, message: String(describing: error))
        }
        // What remains comes from the network layer (refused, reset, unreachable, TLS).
        return ProviderError(broken, message: "Connection failure: \(error)")
    }

    private static func format(_ duration: Duration) -> String {
        let ms = Int((duration.seconds * 1000).rounded())
        return ms < 1000 ? "\(ms)ms" : String(format: "%.1fs", Double(ms) / 1000)
    }
}

/// The attempt budget ran out.
struct BudgetExceeded: Error {}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        // Clamped: a "forever" duration must not overflow the nanosecond count.
        let capped = min(max(seconds, -9_000_000_000), 9_000_000_000)
        self = .nanoseconds(capped * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// Holds a stream's element iterator for the `AsyncThrowingStream` connectors consume; only
/// that stream's single consumer calls ``next()``, one call at a time.
private final class ElementIterator<Base: AsyncIteratorProtocol>: @unchecked Sendable where Base.Element: Sendable {
    private var base: Base

    init(_ base: Base) {
        self.base = base
    }

    func next() async throws -> Base.Element? {
        try await base.next()
    }
}

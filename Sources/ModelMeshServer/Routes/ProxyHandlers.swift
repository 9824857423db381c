import Foundation
import HTTPTypes
import Hummingbird
import ModelMesh
import ModelMeshProviders
import NIOCore
import Tracing

/// What the route handlers share: the mesh, the limits, the metrics and the open streams.
struct ProxyHandlers: Sendable {
    let mesh: Mesh
    let bodyLimit: Int
    let metrics: PrometheusConnector
    let eventStreams: EventStreamHub
    let heartbeatInterval: Duration
    /// The `/v1/models` listing, computed once per configuration version.
    let modelLists: ModelListCache
    var modelList: ModelList { modelLists.listing(for: mesh) }
    /// Applies the configuration file again (`POST /v1/mesh/reload`); nil without a file.
    var reloader: ConfigurationReloader? = nil
    /// Whether bearer tokens are configured (operator endpoints that need one refuse otherwise).
    var authEnabled = false
    /// Where request spans go (nil: the bootstrapped tracer, if any).
    var tracer: (any Tracer)? = nil

    // MARK: Bodies

    /// Reads the request body, refusing one over the limit from its `Content-Length`
    /// before reading, and while reading when it is streamed in without one.
    func readBody(_ request: Request) async throws -> ByteBuffer {
        // The first field, not the subscript: that one joins every value into a new string.
        if let declared = request.headers.first(where: { $0.name == .contentLength }).flatMap({ Int($0.value) }),
            declared > bodyLimit
        {
            throw ProxyError.bodyTooLarge(limit: bodyLimit)
        }
        do {
            return try await request.body.collect(upTo: bodyLimit)
        } catch is NIOTooManyBytesError {
            throw ProxyError.bodyTooLarge(limit: bodyLimit)
        }
    }

    /// Reads and decodes a JSON body in one pass; problems become 400s naming the field.
    func decodeBody<T: Decodable>(_ type: T.Type, from request: Request, what: String) async throws -> T {
        let buffer = try await readBody(request)
        guard buffer.readableBytes > 0 else {
            throw ProxyError.invalidRequest("Request body is empty: send a JSON \(what)")
        }
        return try decodeJSON(type, from: buffer, what: what)
    }

    /// Decodes a non-empty JSON body; problems become 400s naming the field.
    func decodeJSON<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer, what: String) throws -> T {
        guard Self.isValidUTF8(buffer.readableBytesView) else {
            throw ProxyError.invalidRequest(
                "Request body is not valid UTF-8: send the JSON \(what) encoded as UTF-8",
                hint: "Check the client's encoding; JSON bodies must be UTF-8")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw ProxyError.decoding(error)
        }
    }

    /// Whether `bytes` are well-formed UTF-8; ASCII (the common case) is a plain scan.
    static func isValidUTF8(_ bytes: ByteBufferView) -> Bool {
        if !bytes.contains(where: { $0 >= 0x80 }) { return true }
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    // MARK: Client disconnects

    /// Runs `operation` (routing a request upstream) unless the client goes away first: then
    /// the operation is cancelled, which closes the upstream call and releases any budget it
    /// held, and the request ends as 499.
    func untilClientLeaves<T: Sendable>(
        _ context: ProxyRequestContext, _ operation: () async throws -> T
    ) async throws -> T {
        // Looked up here, not for every request: only routed requests wait on an upstream.
        guard let client = ClientDisconnectWatcher.of(context.channel) else { return try await operation() }
        // The request's own task is cancelled when the client leaves: no watching task per
        // request. Gone before routing began, it is routed cancelled, so it is logged and
        // counted as a 499 like any other hang-up, and nothing is sent upstream.
        let watching = withUnsafeCurrentTask { task in
            guard let task else { return false }
            if client.cancelWhenGone(task) { return true }
            task.cancel()
            return false
        }
        defer { if watching { client.stopCancelling() } }
        let value = try await operation()
        if client.isGone { throw CancellationError() }
        return value
    }

    // MARK: Responses

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.format(date))
        }
        return encoder
    }

    /// A JSON response.
    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws
        -> Response
    {
        try json(encoded: encoder().encode(value), status: status, headers: headers)
    }

    /// A JSON response whose body is already encoded.
    static func json(encoded body: Data, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// `x-modelmesh-*` headers of a routed answer.
    static func routingHeaders(pool: String, model: String, provider: String, attempts: Int) -> HTTPFields {
        [
            .modelMeshPool: pool, .modelMeshModel: model, .modelMeshProvider: provider,
            .modelMeshAttempts: String(attempts),
        ]
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import ModelMesh
import NIOCore

/// An error at the HTTP edge of the proxy, in the OpenAI error shape.
///
/// Every failure of a request ends here: ``ProxyError/init(_:path:)`` turns engine errors
/// (``ModelMeshError``), body and JSON problems, and Hummingbird's own errors into one of
/// these, and ``response(requestID:)`` renders
/// `{"error": {"message", "type", "param", "code"}}` with the matching status.
public struct ProxyError: Error, Sendable, CustomStringConvertible {
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// The OpenAI error type (`invalid_request_error`, `authentication_error`, ...).
    public var type: String
    /// The offending request field, e.g. `messages` or `messages[0].content`.
    public var param: String?
    /// A stable machine-readable code (`model_not_found`, `all_candidates_failed`, ...).
    public var code: String?
    /// What went wrong, for people.
    public var message: String
    /// How to fix it, when known.
    public var hint: String?
    /// Per-attempt detail of routing failures.
    public var attempts: [AttemptRecord]
    /// Extra response headers (`Retry-After`, `WWW-Authenticate`).
    public var headers: HTTPFields

    /// Makes an error; `type` defaults to the one that goes with `status`.
    public init(
        _ status: HTTPResponse.Status, _ message: String, type: String? = nil, param: String? = nil,
        code: String? = nil, hint: String? = nil, attempts: [AttemptRecord] = [], headers: HTTPFields = [:]
    ) {
        self.status = status
        self.type = type ?? Self.defaultType(for: status.code)
        self.param = param
        self.code = code
        self.message = message
        self.hint = hint
        self.attempts = attempts
        self.headers = headers
    }

    public var description: String { "\(status.code) \(type): \(message)" }

    // MARK: Common errors

    /// 400 for a malformed request; `param` names the field.
    public static func invalidRequest(_ message: String, param: String? = nil, hint: String? = nil) -> ProxyError {
        ProxyError(.badRequest, message, param: param, code: "invalid_request_error", hint: hint)
    }

    /// 413: the body is larger than `limit` bytes.
    public static func bodyTooLarge(limit: Int) -> ProxyError {
        ProxyError(
            .contentTooLarge, "Request body too large: the limit is \(limit) bytes", code: "request_too_large",
            hint: "Send a smaller request or raise proxy.body_limit")
    }

    /// 408: the client did not send its request head, or stopped sending its body, in time.
    public static func requestTimeout(_ what: String, limit: String) -> ProxyError {
        ProxyError(
            .requestTimeout, "The client did not send \(what) in time", code: "request_timeout",
            hint: "Send the whole request without pausing, or raise proxy.limits.\(limit)")
    }

    /// 431: the request head has too many header fields or too many bytes of them.
    public static func headersTooLarge(maxSize: Int, maxCount: Int) -> ProxyError {
        ProxyError(
            .requestHeaderFieldsTooLarge,
            "Request headers too large: the limits are \(maxSize) bytes and \(maxCount) fields",
            code: "request_header_fields_too_large",
            hint: "Send fewer or smaller headers, or raise proxy.limits.max_header_size / max_headers")
    }

    /// 503: the proxy already serves as many client connections as it allows.
    public static func tooManyConnections(limit: Int) -> ProxyError {
        ProxyError(
            .serviceUnavailable, "Too many connections: the proxy serves at most \(limit) at once",
            code: "too_many_connections",
            hint: "Retry shortly, reuse connections, or raise proxy.limits.max_connections")
    }

    /// 401 with `WWW-Authenticate: Bearer`.
    public static func unauthorized() -> ProxyError {
        ProxyError(
            .unauthorized, "Invalid or missing bearer token", code: "invalid_api_key",
            hint: "Send 'Authorization: Bearer <token>' with one of the proxy's tokens",
            headers: [.wwwAuthenticate: "Bearer"])
    }

    /// 403: a valid client token on an operator endpoint.
    public static func forbidden(hasAdminTokens: Bool) -> ProxyError {
        ProxyError(
            .forbidden, "This endpoint changes the mesh and needs an admin token", code: "permission_denied",
            hint: hasAdminTokens
                ? "Send one of proxy.auth.admin_tokens"
                : "Configure proxy.auth.admin_tokens and send one of them")
    }

    /// 429 from the local rate limiter.
    public static func rateLimited(retryAfterSeconds: Int) -> ProxyError {
        ProxyError(
            .tooManyRequests, "Rate limit exceeded: retry in \(retryAfterSeconds)s", code: "rate_limit_exceeded",
            headers: [.retryAfter: String(retryAfterSeconds)])
    }

    /// 404 for a path the proxy does not serve.
    public static func pathNotFound(_ method: HTTPRequest.Method, _ path: String) -> ProxyError {
        ProxyError(.notFound, "Not found: \(method.rawValue) \(path)", code: "not_found")
    }

    /// 405 for a known path asked with the wrong method, with `Allow`.
    public static func methodNotAllowed(_ method: HTTPRequest.Method, _ path: String, allowed: [HTTPRequest.Method])
        -> ProxyError
    {
        let list = allowed.map(\.rawValue).joined(separator: ", ")
        return ProxyError(
            .methodNotAllowed, "Method \(method.rawValue) is not allowed on \(path); use \(list)",
            code: "method_not_allowed", headers: [.allow: list])
    }

    // MARK: Mapping

    /// The edge rendering of any error raised while serving `path`.
    public init(_ error: any Error, method: HTTPRequest.Method = .get, path: String = "") {
        switch error {
        case let error as ProxyError:
            self = error
        case let error as ModelMeshError:
            self.init(meshError: error)
        case let error as DecodingError:
            self = Self.decoding(error)
        case is NIOTooManyBytesError:
            self.init(.contentTooLarge, "Request body too large", code: "request_too_large")
        case let error as HTTPError:
            switch error.status {
            case .notFound: self = .pathNotFound(method, path)
            case .methodNotAllowed:
                self.init(
                    .methodNotAllowed, "Method \(method.rawValue) is not allowed on \(path)", code: "method_not_allowed"
                )
            case .contentTooLarge: self.init(.contentTooLarge, "Request body too large", code: "request_too_large")
            default: self.init(error.status, error.body ?? error.status.reasonPhrase)
            }
        case let error as any HTTPResponseError:
            self.init(error.status, error.status.reasonPhrase)
        case is CancellationError:
            self.init(Self.clientClosed, "The request was cancelled", code: "cancelled")
        default:
            // Unknown errors may carry internals; the detail goes to the log, not the client.
            self.init(.internalServerError, "Internal error while handling the request", code: "internal_error")
        }
    }

    /// 499, nginx's "client closed request": the caller went away.
    static let clientClosed = HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request")

    init(meshError error: ModelMeshError) {
        var message = error.message
        if !error.suggestions.isEmpty {
            message += ". Did you mean: " + error.suggestions.map { "'\($0)'" }.joined(separator: ", ") + "?"
        }
        let status = HTTPResponse.Status(code: error.status)
        let type: String =
            switch error.code {
            case .budgetExceeded: "budget_exceeded"
            case .modelNotFound, .invalidRequest, .contentPolicy, .contextLengthExceeded: "invalid_request_error"
            case .noActiveModel, .shutDown, .storageUnavailable: "service_unavailable"
            case .timeout: "timeout_error"
            case .cancelled: "cancelled"
            default: Self.defaultType(for: error.status, upstream: true)
            }
        var headers: HTTPFields = [:]
        if let retryAfter = error.retryAfter {
            headers[.retryAfter] = String(Self.wholeSeconds(retryAfter))
        }
        // Which pool refused and how hard it tried, as on successful answers.
        if let pool = error.poolID { headers[HTTPField.Name("x-modelmesh-pool")!] = pool }
        if !error.attempts.isEmpty {
            headers[HTTPField.Name("x-modelmesh-attempts")!] = String(error.attempts.count)
        }
        if error.code == .budgetExceeded, let limit = error.limit, !message.contains(limit) {
            message += " (limit \(limit)" + (error.remaining.map { String(format: ", $%.6f left", $0) } ?? "") + ")"
        }
        self.init(
            status, message, type: type, param: error.code == .modelNotFound ? "model" : nil, code: error.code.rawValue,
            hint: error.hint, attempts: error.attempts, headers: headers)
    }

    static func decoding(_ error: DecodingError) -> ProxyError {
        func path(_ keys: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
            var text = ""
            for key in keys + (last.map { [$0] } ?? []) {
                if let index = key.intValue, key.stringValue == "Index \(index)" || key.stringValue == "\(index)" {
                    text += "[\(index)]"
                } else {
                    text += text.isEmpty ? key.stringValue : "." + key.stringValue
                }
            }
            return text
        }
        switch error {
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath, key)
            return .invalidRequest("Missing required field: \(field)", param: field)
        case .typeMismatch(let type, let context):
            let field = path(context.codingPath)
            if field.isEmpty { return .invalidRequest("Invalid JSON: the body must be a JSON object") }
            return .invalidRequest("Invalid type for '\(field)': expected \(Self.jsonTypeName(type))", param: field)
        case .valueNotFound(let type, let context):
            let field = path(context.codingPath)
            return .invalidRequest("'\(field)' must not be null (expected \(Self.jsonTypeName(type)))", param: field)
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            if field.isEmpty {
                let detail = context.underlyingError.map(Self.describe) ?? context.debugDescription
                return .invalidRequest("Invalid JSON: \(detail)")
            }
            return .invalidRequest("Invalid value for '\(field)': \(context.debugDescription)", param: field)
        @unknown default:
            return .invalidRequest("Invalid request body")
        }
    }

    /// The most specific text of a JSON parser error.
    static func describe(_ error: any Error) -> String {
        let ns = error as NSError
        if let debug = ns.userInfo[NSDebugDescriptionErrorKey] as? String { return debug }
        return "\(error)"
    }

    static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Double.Type: "a number"
        case is [Any].Type: "an array"
        default:
            String(describing: type).hasPrefix("Array") ? "an array" : "an object (\(String(describing: type)))"
        }
    }

    static func defaultType(for status: Int, upstream: Bool = false) -> String {
        switch status {
        case 400, 404, 405, 409, 413, 415, 422: "invalid_request_error"
        case 401: "authentication_error"
        case 402: "budget_exceeded"
        case 403: "permission_error"
        case 429: "rate_limit_error"
        case 499: "cancelled"
        case 503: "service_unavailable"
        case 504: "timeout_error"
        case 500..<600: upstream ? "upstream_error" : "server_error"
        default: "invalid_request_error"
        }
    }

    static func wholeSeconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(0, Int(seconds) + (attoseconds > 0 ? 1 : 0))
    }
}

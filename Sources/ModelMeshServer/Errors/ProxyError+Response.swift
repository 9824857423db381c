import Foundation
import HTTPTypes
import Hummingbird
import ModelMesh
import NIOCore

extension ProxyError {
    /// The OpenAI error body: `{"error": {"message", "type", "param", "code", ...}}`.
    struct Body: Encodable {
        struct Detail: Encodable {
            var message: String
            var type: String
            var param: String?
            var code: String?
            var hint: String?
            var attempts: [AttemptRecord]
            var requestID: String?

            enum CodingKeys: String, CodingKey {
                case message, type, param, code, hint, attempts
                case requestID = "request_id"
            }

            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(message, forKey: .message)
                try c.encode(type, forKey: .type)
                // OpenAI clients expect `param` and `code` present, null when unknown.
                try c.encode(param, forKey: .param)
                try c.encode(code, forKey: .code)
                try c.encodeIfPresent(hint, forKey: .hint)
                if !attempts.isEmpty { try c.encode(attempts, forKey: .attempts) }
                try c.encodeIfPresent(requestID, forKey: .requestID)
            }
        }
        var error: Detail
    }

    func body(requestID: String?) -> Body {
        Body(
            error: .init(
                message: message, type: type, param: param, code: code, hint: hint, attempts: attempts,
                requestID: requestID))
    }

    /// The JSON bytes of the error body.
    func jsonData(requestID: String?) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return (try? encoder.encode(body(requestID: requestID)))
            ?? Data(#"{"error":{"message":"Internal error","type":"server_error","param":null,"code":null}}"#.utf8)
    }

    /// The complete HTTP response for this error.
    public func response(requestID: String?) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        let data = jsonData(requestID: requestID)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The in-band SSE event that ends a stream broken after output began:
    /// `data: {"error": {...}}` followed by a blank line (and no `[DONE]`).
    func serverSentEvent(requestID: String?) -> ByteBuffer {
        var buffer = ByteBuffer(string: "data: ")
        buffer.writeBytes(jsonData(requestID: requestID))
        buffer.writeString("\n\n")
        return buffer
    }
}

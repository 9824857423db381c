import HTTPTypes
import Hummingbird

extension HTTPField.Name {
    static let requestID = HTTPField.Name("x-request-id")!
    static let modelMeshPool = HTTPField.Name("x-modelmesh-pool")!
    static let modelMeshModel = HTTPField.Name("x-modelmesh-model")!
    static let modelMeshProvider = HTTPField.Name("x-modelmesh-provider")!
    static let modelMeshAttempts = HTTPField.Name("x-modelmesh-attempts")!
}

/// Gives every request an id and echoes it in `x-request-id`.
///
/// A client id is kept when it is 1–128 printable ASCII characters; anything else is
/// replaced by 32 random hex digits, so ids are safe to put in logs and headers.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = ProxyRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var context = context
        context.requestID = Self.usable(request.headers[.requestID]) ?? Self.generate()
        var response = try await next(request, context)
        response.headers[.requestID] = context.requestID
        return response
    }

    static func usable(_ value: String?) -> String? {
        guard let value, !value.isEmpty, value.utf8.count <= 128,
            value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { return nil }
        return value
    }

    static func generate() -> String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes = [UInt8]()
        bytes.reserveCapacity(32)
        for var word in [UInt64.random(in: .min ... .max), UInt64.random(in: .min ... .max)] {
            for _ in 0..<16 {
                bytes.append(digits[Int(word & 0xF)])
                word >>= 4
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

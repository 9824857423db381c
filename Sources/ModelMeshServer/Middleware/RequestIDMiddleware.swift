import HTTPTypes
import Hummingbird
import Synchronization

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

    /// 16 random hex digits drawn once per process, then a 16-digit counter: unique within
    /// the process and across restarts, with no system call per request (`getrandom` twice
    /// per request showed up in the profile).
    static func generate() -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return prefix + hex(n)
    }

    private static let prefix = hex(UInt64.random(in: .min ... .max))
    private static let counter = Atomic<UInt64>(0)

    private static func hex(_ value: UInt64) -> String {
        var word = value
        return String(unsafeUninitializedCapacity: 16) { buffer in
            for index in (0..<16).reversed() {
                let nibble = UInt8(truncatingIfNeeded: word & 0xF)
                buffer[index] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
                word >>= 4
            }
            return 16
        }
    }
}

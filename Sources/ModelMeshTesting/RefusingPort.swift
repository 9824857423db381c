#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A loopback port that refuses every connection, for as long as this value is open.
///
/// The port is bound but never listened on, so a connect gets a reset (`ECONNREFUSED`) and no
/// other server can take the port meanwhile. Shutting a ``FakeUpstream`` down and reusing its
/// port is not safe for this: tests running in parallel may bind the freed port at once and
/// answer the request meant to be refused.
///
/// ```swift
/// let refusing = try RefusingPort()
/// defer { refusing.close() }
/// // point a provider at refusing.baseURL ...
/// ```
public final class RefusingPort: Sendable {
    /// The refused port on `127.0.0.1`.
    public let port: Int
    private let descriptor: Int32

    /// Binds a socket to `127.0.0.1` on a free port without listening on it.
    public init() throws {
        #if canImport(Darwin)
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #else
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #endif
        guard fd >= 0 else { throw RefusingPortError(call: "socket", code: errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(fd, generic, length) == 0 && getsockname(fd, generic, &length) == 0
            }
        }
        guard bound else {
            let code = errno
            _ = Self.closeDescriptor(fd)
            throw RefusingPortError(call: "bind", code: code)
        }
        self.descriptor = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// `http://127.0.0.1:<port>`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// `baseURL` followed by `path`.
    public func url(_ path: String) -> String { baseURL + path }

    /// Releases the port.
    public func close() { _ = Self.closeDescriptor(descriptor) }

    private static func closeDescriptor(_ fd: Int32) -> Int32 {
        #if canImport(Darwin)
        Darwin.close(fd)
        #elseif canImport(Musl)
        Musl.close(fd)
        #else
        Glibc.close(fd)
        #endif
    }
}

/// A socket call failed while reserving a ``RefusingPort``.
public struct RefusingPortError: Error, CustomStringConvertible {
    /// The failing call.
    public let call: String
    /// Its `errno`.
    public let code: Int32

    public var description: String { "RefusingPort: \(call) failed with errno \(code)" }
}

import Synchronization

/// Where pooled connections go: scheme, host and port. Connections are shared per endpoint.
struct UpstreamEndpoint: Hashable, Sendable, CustomStringConvertible {
    let tls: Bool
    let host: String
    let port: Int
    /// The `Host` header: the port is left out when it is the scheme's default. Built once,
    /// since every request on the endpoint sends it.
    let hostHeader: String

    init(tls: Bool, host: String, port: Int) {
        self.tls = tls
        self.host = host
        self.port = port
        let name = host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]" : host
        hostHeader = port == (tls ? 443 : 80) ? name : "\(name):\(port)"
    }

    var description: String { "\(tls ? "https" : "http")://\(host):\(port)" }

    /// Whether the host is an IP address literal (TLS then sends no SNI and checks the
    /// certificate's IP addresses instead of a name).
    var hostIsAddress: Bool {
        host.utf8.contains(UInt8(ascii: ":"))
            || (!host.isEmpty && host.utf8.allSatisfy { $0 == UInt8(ascii: ".") || (48...57).contains($0) })
    }
}

/// An absolute `http` or `https` URL split into the endpoint and the request target.
struct UpstreamTarget: Sendable {
    var endpoint: UpstreamEndpoint
    /// Path and query, as sent on the request line (`/` when the URL has no path).
    var uri: String

    /// The URL is not an absolute `http`/`https` URL with a host.
    struct Invalid: Error, CustomStringConvertible {
        var reason: String
        var description: String { "Invalid upstream URL (\(reason))" }
    }

    /// Parsed URLs: an upstream's few URLs are parsed once, not on every request.
    private static let parsed = Mutex<[String: UpstreamTarget]>([:])

    /// ``init(_:)``, remembered: a connector sends to a handful of URLs.
    static func cached(_ url: String) throws -> UpstreamTarget {
        if let known = parsed.withLock({ $0[url] }) { return known }
        let target = try UpstreamTarget(url)
        parsed.withLock { cache in
            // Bounded: a URL per request (a query string that changes) must not grow it forever.
            if cache.count >= 256 { cache.removeAll(keepingCapacity: true) }
            cache[url] = target
        }
        return target
    }

    /// Parses `url`; userinfo and fragments are not accepted.
    init(_ url: String) throws {
        let tls: Bool
        var rest: Substring
        if url.hasPrefix("https://") {
            tls = true
            rest = url.dropFirst(8)
        } else if url.hasPrefix("http://") {
            tls = false
            rest = url.dropFirst(7)
        } else {
            throw Invalid(reason: "the scheme must be http or https")
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        rest = rest[authorityEnd...]
        if let fragment = rest.firstIndex(of: "#") { rest = rest[..<fragment] }
        guard !authority.contains("@") else { throw Invalid(reason: "credentials in the URL are not supported") }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw Invalid(reason: "unclosed IPv6 address") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw Invalid(reason: "unexpected text after the IPv6 address")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw Invalid(reason: "no host") }
        var port = tls ? 443 : 80
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw Invalid(reason: "bad port '\(portText)'")
            }
            port = value
        }
        endpoint = UpstreamEndpoint(tls: tls, host: host.lowercased(), port: port)
        uri = rest.isEmpty ? "/" : (rest.hasPrefix("?") ? "/" + rest : String(rest))
    }
}

import BenchCommandLine

/// Command-line settings of `modelmesh-passthrough`, parsed by hand.
struct PassthroughOptions: Sendable {
    enum Server: String, Sendable { case nio, hummingbird }
    enum Client: String, Sendable { case nio, ahc }

    var host = "127.0.0.1"
    /// `0` picks a free port; the bound port is printed as `listening on HOST:PORT`.
    var port = 0
    var upstreamHost = ""
    var upstreamPort = 0
    var server = Server.nio
    var client = Client.nio
    /// Event-loop threads; `nil` uses NIO's shared group (one loop per core), as `modelmesh serve` does.
    var threads: Int?

    static let usage = """
        usage: modelmesh-passthrough --upstream HOST:PORT [--host 127.0.0.1] [--port 0]
                                     [--server nio|hummingbird] [--client nio|ahc] [--threads N]

        The floor of the proxy benchmark: forwards every request (method, path, end-to-end headers,
        body) to one upstream over keep-alive connections and streams the answer back, with no
        routing and no JSON. --server picks bare SwiftNIO or Hummingbird 2, --client bare SwiftNIO
        (a pool per event loop) or AsyncHTTPClient. Prints `listening on HOST:PORT` once bound.
        """

    /// Parses `arguments` (without the program name).
    static func parse(_ arguments: [String]) throws(OptionsError) -> PassthroughOptions {
        var options = PassthroughOptions()
        try forEachOption(arguments) { (flag, value) throws(OptionsError) in
            switch flag {
            case "--host": options.host = value
            case "--port": options.port = try integerOption(value, flag: flag, range: 0...65_535)
            case "--threads": options.threads = try integerOption(value, flag: flag, range: 1...64)
            case "--upstream":
                let parts = value.split(separator: ":")
                guard parts.count == 2, let port = Int(parts[1]), (1...65_535).contains(port) else {
                    throw .invalid("--upstream wants HOST:PORT, got '\(value)'")
                }
                (options.upstreamHost, options.upstreamPort) = (String(parts[0]), port)
            case "--server":
                guard let server = Server(rawValue: value) else { throw .invalid("--server is nio or hummingbird") }
                options.server = server
            case "--client":
                guard let client = Client(rawValue: value) else { throw .invalid("--client is nio or ahc") }
                options.client = client
            default: throw .invalid("unknown option \(flag)")
            }
        }
        guard options.upstreamPort != 0 else { throw .invalid("--upstream is required") }
        return options
    }
}


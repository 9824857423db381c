import BenchCommandLine

/// Command-line settings of `modelmesh-fake-upstream`.
///
/// Parsed by hand so the target depends on nothing but SwiftNIO.
struct FakeUpstreamOptions: Sendable {
    var host = "127.0.0.1"
    /// `0` picks a free port; the bound port is printed on the first line of standard output.
    var port = 0
    /// Content chunks per streamed completion (before `data: [DONE]`).
    var chunks = 20
    /// Time between two streamed chunks; the first chunk is sent at once.
    var intervalMilliseconds = 10
    /// Content chunks of a *held* stream: one asked for with `"bench_hold": true` in the body.
    var heldChunks = 5
    /// Time between two chunks of a held stream. Held streams are slow on purpose: they measure
    /// how many streams a proxy keeps open at once, not how many chunks a second it relays.
    var heldIntervalMilliseconds = 1000
    /// Event-loop threads.
    var threads = 1

    static let usage = """
        usage: modelmesh-fake-upstream [--host 127.0.0.1] [--port 0] [--chunks 20] [--interval-ms 10]
                                       [--held-chunks 5] [--held-interval-ms 1000] [--threads 1]

        A fast fake OpenAI upstream for benchmarks. Answers POST /v1/chat/completions at once with a
        fixed completion (usage included); with "stream": true sends --chunks SSE chunks, the first at
        once and then one every --interval-ms, then `data: [DONE]`; a streamed request whose body also
        has "bench_hold": true gets --held-chunks chunks --held-interval-ms apart instead. Also serves
        GET /v1/models.
        Prints `listening on HOST:PORT` once bound.
        """

    /// Parses `arguments` (without the program name).
    static func parse(_ arguments: [String]) throws(OptionsError) -> FakeUpstreamOptions {
        var options = FakeUpstreamOptions()
        try forEachOption(arguments) { (flag, value) throws(OptionsError) in
            switch flag {
            case "--host": options.host = value
            case "--port": options.port = try integerOption(value, flag: flag, range: 0...65_535)
            case "--chunks": options.chunks = try integerOption(value, flag: flag, range: 1...100_000)
            case "--interval-ms": options.intervalMilliseconds = try integerOption(value, flag: flag, range: 0...60_000)
            case "--held-chunks": options.heldChunks = try integerOption(value, flag: flag, range: 1...100_000)
            case "--held-interval-ms":
                options.heldIntervalMilliseconds = try integerOption(value, flag: flag, range: 0...600_000)
            case "--threads": options.threads = try integerOption(value, flag: flag, range: 1...64)
            default: throw .invalid("unknown option \(flag)")
            }
        }
        return options
    }
}


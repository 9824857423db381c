#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// Why a benchmark tool's command line was not accepted.
public enum OptionsError: Error {
    /// `-h` or `--help`: print the usage and stop.
    case help
    /// What is wrong, for the user.
    case invalid(String)
}

/// Walks `--flag value` pairs: `-h`/`--help` is ``OptionsError/help``, a flag without a value
/// an error; `handle` takes each pair and throws on what it does not know.
public func forEachOption(
    _ arguments: [String], _ handle: (_ flag: String, _ value: String) throws(OptionsError) -> Void
) throws(OptionsError) {
    var remaining = arguments[...]
    while let flag = remaining.popFirst() {
        if flag == "-h" || flag == "--help" { throw .help }
        guard let value = remaining.popFirst() else { throw .invalid("\(flag) needs a value") }
        try handle(flag, value)
    }
}

/// `text` as an integer within `range`, or an error naming `flag`.
public func integerOption(_ text: String, flag: String, range: ClosedRange<Int>) throws(OptionsError) -> Int {
    guard let value = Int(text), range.contains(value) else {
        throw .invalid("\(flag) wants an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
    }
    return value
}

/// The options `parse` reads from the process's arguments; on `--help` the usage is printed and
/// on a bad command line the problem and the usage go to stderr, then the process exits (0, 64).
public func parseCommandLine<Options>(
    _ parse: ([String]) throws(OptionsError) -> Options, program: String, usage: String
) -> Options {
    do throws(OptionsError) {
        return try parse(Array(CommandLine.arguments.dropFirst()))
    } catch {
        switch error {
        case .help:
            print(usage)
            exit(0)
        case .invalid(let message):
            writeLine("\(program): \(message)\n\(usage)", to: 2)
            exit(64)
        }
    }
}

/// One unbuffered line on a standard stream, so the script waiting for it sees it at once.
public func writeLine(_ text: String, to descriptor: Int32 = 1) {
    var line = text + "\n"
    line.withUTF8 { bytes in _ = write(descriptor, bytes.baseAddress, bytes.count) }
}

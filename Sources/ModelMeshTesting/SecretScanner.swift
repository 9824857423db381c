import Synchronization

/// Looks for configured secrets in everything a test run produced: log lines, events,
/// request logs, traces, error bodies, metrics, state files.
///
/// Give it every secret the configuration holds (API keys, header values, proxy tokens),
/// feed it each piece of output with where it came from, then assert there are no leaks.
///
/// ```swift
/// let scanner = SecretScanner(secrets: ["sk-live-123456", "admin-token-1"])
/// scanner.scan(responseBody, from: "POST /v1/chat/completions")
/// #expect(scanner.leaks.isEmpty, "\(scanner.leaks)")
/// ```
public final class SecretScanner: Sendable {
    /// Where a secret was found; the secret itself is never kept, only its position in the
    /// list the scanner was given.
    public struct Leak: Sendable, Hashable, CustomStringConvertible {
        public var source: String
        public var secretIndex: Int

        public var description: String { "secret #\(secretIndex) in \(source)" }
    }

    private let secrets: [String]
    private let state = Mutex<(scanned: Int, leaks: [Leak])>((0, []))

    /// - Parameter secrets: the values to look for. Values shorter than 4 characters are
    ///   ignored: they would match ordinary text.
    public init(secrets: [String]) {
        self.secrets = secrets.filter { $0.count >= 4 }
    }

    /// Scans one piece of output.
    public func scan(_ text: String, from source: String) {
        let found = secrets.indices.filter { text.contains(secrets[$0]) }
        state.withLock { s in
            s.scanned += 1
            s.leaks += found.map { Leak(source: source, secretIndex: $0) }
        }
    }

    /// Every leak found so far.
    public var leaks: [Leak] { state.withLock { $0.leaks } }

    /// How many pieces of output were scanned, so a test can tell an empty scan from a clean one.
    public var scannedCount: Int { state.withLock { $0.scanned } }
}

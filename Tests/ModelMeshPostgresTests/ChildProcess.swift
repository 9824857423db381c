#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A child process started with `posix_spawn`, its output appended to a file.
///
/// Foundation's `Process` is not used here: its exit monitoring left children of parallel tests
/// unreaped (zombies) so `waitUntilExit()` never returned, and a pipe to a child that starts a
/// daemon is held open by the daemon. A file for output and `waitpid` for the exit have neither
/// problem.
final class ChildProcess: Sendable {
    let pid: pid_t
    /// Where the child's standard output and error go.
    let logPath: String

    /// Starts `path` with `arguments`; the environment is this process's plus `environment`.
    init(_ path: String, _ arguments: [String], environment: [String: String] = [:], logPath: String) throws {
        self.logPath = logPath
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let status = posix_spawn(&child, path, &actions, nil, argv, envp)
        guard status == 0 else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "cannot start \(path): \(String(cString: strerror(status)))"])
        }
        pid = child
    }

    /// Sends `signal` (SIGTERM, SIGKILL…).
    func signal(_ signal: Int32) { _ = kill(pid, signal) }

    /// Waits for the exit without holding a task thread; returns the exit status (128+n for a signal).
    @discardableResult
    func wait() async -> Int32 {
        let pid = self.pid
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                let signalled = status & 0x7f
                continuation.resume(returning: signalled == 0 ? (status >> 8) & 0xff : 128 + signalled)
            }
        }
    }

    /// What the child wrote so far.
    var output: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Runs `path` to its end; returns the exit status.
    static func run(_ path: String, _ arguments: [String], logPath: String) async throws -> Int32 {
        try await ChildProcess(path, arguments, logPath: logPath).wait()
    }
}

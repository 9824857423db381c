import Foundation
import ModelMesh
import ModelMeshPostgres
import ModelMeshTesting
import Testing

/// The PostgreSQL server the tests use: `MODELMESH_TEST_POSTGRES` (a `postgres://` URL),
/// set by `.ci/run`, which starts one with `scripts/postgres-server`. Outside CI, without
/// it, these tests are skipped; in CI a missing server fails them.
enum TestPostgres {
    static let url = ProcessInfo.processInfo.environment["MODELMESH_TEST_POSTGRES"]
    static let isCI = ProcessInfo.processInfo.environment["CI"] != nil
    static let enabled = url != nil || isCI

    /// The repository root (for `scripts/` and the built `modelmesh`).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func settings(schema: String = freshSchema()) throws -> PostgresStorageSettings {
        let url = try #require(url, "MODELMESH_TEST_POSTGRES is not set: start scripts/postgres-server")
        var settings = try #require(PostgresStorageSettings.parse(url: url))
        settings.schema = schema
        return settings
    }

    /// A schema of its own for each test: tests run in parallel without seeing each other.
    static func freshSchema() -> String {
        "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
    }

    /// A storage configuration for the shared store.
    static func storage(_ settings: PostgresStorageSettings, lease: Duration = .seconds(30),
        onUnavailable: StorageUnavailablePolicy = .failClosed) -> StorageConfiguration
    {
        var storage = StorageConfiguration()
        storage.connector = "modelmesh.postgres.v1"
        storage.postgres = settings
        storage.syncPolicy = .immediate
        storage.lease = lease
        storage.pollInterval = .milliseconds(200)
        storage.onUnavailable = onUnavailable
        return storage
    }

    static var modelmeshBinary: String {
        ProcessInfo.processInfo.environment["MODELMESH_BIN"]
            ?? root.appendingPathComponent(".build/debug/modelmesh").path
    }
}

/// Every test that uses PostgreSQL, one at a time: they start servers and processes, and
/// on a small machine running them at once would measure the machine, not the mesh.
@Suite("PostgreSQL", .serialized, .enabled(if: TestPostgres.enabled))
struct PostgresTests {}

/// Runs `body` with `store` running; stops it after.
func withStore<T: Sendable>(
    _ store: PostgresStateStore, _ body: @Sendable (PostgresStateStore) async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await store.run() }
        defer { group.cancelAll() }
        return try await body(store)
    }
}

/// Polls `condition` every 20 ms until it holds or `limit` passes; returns how long it took.
@discardableResult
func waitUntil(
    _ limit: Duration = .seconds(10), _ what: String, _ condition: @Sendable () async throws -> Bool
) async throws -> Duration {
    let clock = ContinuousClock()
    let start = clock.now
    while clock.now - start < limit {
        if try await condition() { return clock.now - start }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("Timed out after \(limit) waiting until \(what)")
    throw CancellationError()
}

/// A PostgreSQL server of the test's own (for stopping it under load), through
/// `scripts/postgres-server`.
struct OwnPostgres {
    let directory: String

    /// Runs `body` with a server of its own; the server is discarded after, however `body` ends.
    static func with(_ body: (OwnPostgres, PostgresStorageSettings) async throws -> Void) async throws {
        let (server, settings) = try await start()
        do {
            try await body(server, settings)
        } catch {
            await server.discard()
            throw error
        }
        await server.discard()
    }

    static func start() async throws -> (OwnPostgres, PostgresStorageSettings) {
        let server = OwnPostgres(directory: NSTemporaryDirectory() + "mm-pg-" + UUID().uuidString.prefix(8))
        let url = try await server.run("start")
        var settings = try #require(PostgresStorageSettings.parse(url: url))
        settings.schema = TestPostgres.freshSchema()
        return (server, settings)
    }

    func stop() async throws { _ = try await run("stop") }
    func restart() async throws { _ = try await run("start") }

    /// Stops the server and deletes its data directory.
    func discard() async {
        try? await stop()
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.removeItem(atPath: directory + ".log")
    }

    /// Runs the script and returns the server's URL (built from the port file it writes).
    @discardableResult
    private func run(_ command: String) async throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let script = TestPostgres.root.appendingPathComponent("scripts/postgres-server").path
        let status = try await ChildProcess.run(script, [command, directory], logPath: directory + ".log")
        try #require(status == 0, "postgres-server \(command) failed: \((try? String(contentsOfFile: directory + ".log", encoding: .utf8)) ?? "")")
        let port = try String(contentsOfFile: directory + "/port", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return "postgres://postgres@127.0.0.1:\(port)/postgres"
    }
}

import Foundation
import Logging
import ModelMesh
import NIOSSL
import PostgresNIO
import Synchronization

/// The shared state of several replicas in PostgreSQL (`storage.connector:
/// modelmesh.postgres.v1`), over a PostgresNIO connection pool.
///
/// Everything lives in one schema (`storage.schema`, default `modelmesh`), created and
/// migrated by the first replica that connects (or ahead of a rollout by
/// `modelmesh storage migrate`). Budget reservations, settlements and releases are single
/// calls of functions that lock the rows they touch in key order; state changes are upserts
/// followed by a `NOTIFY` that wakes the other replicas.
///
/// Every call gives up after ``operationTimeout`` and reports the store unreachable, so a
/// database that hangs delays a request by at most that long, once: the mesh then routes
/// without it until it answers again.
public final class PostgresStateStore: SharedStateStore {
    public let replicaID: String
    public let settings: PostgresStorageSettings
    /// The longest any one call may take before the store counts as unreachable.
    public let operationTimeout: Duration
    private let client: PostgresClient
    private let logger: Logger
    private let channel: String
    private let changeStream: AsyncStream<Void>
    private let changeContinuation: AsyncStream<Void>.Continuation

    /// The factory `ProviderRegistry.sharedStateStore` takes.
    public static let factory: SharedStateStoreFactory = { storage in
        guard let settings = storage.postgres else {
            throw ModelMeshError(
                .invalidRequest, "storage.connector modelmesh.postgres.v1 needs a connection",
                hint: "Set storage.url, or storage.host, port, user, password and database")
        }
        return PostgresStateStore(settings: settings)
    }

    public init(
        settings: PostgresStorageSettings, replicaID: String = UUID().uuidString.lowercased(),
        operationTimeout: Duration = .seconds(2), logger: Logger = Logger(label: "modelmesh.postgres")
    ) {
        self.settings = settings
        self.replicaID = replicaID
        self.operationTimeout = operationTimeout
        self.logger = logger
        channel = "modelmesh_\(settings.schema)"
        (changeStream, changeContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        var configuration = PostgresClient.Configuration(
            host: settings.host, port: settings.port, username: settings.user, password: settings.password,
            database: settings.database, tls: Self.tls(settings.tls))
        configuration.options.connectTimeout = .seconds(2)
        configuration.options.maximumConnections = settings.poolSize
        configuration.options.minimumConnections = 1
        // Unqualified names in every statement and function resolve to the mesh's schema.
        configuration.options.additionalStartupParameters = [("search_path", settings.schema)]
        // The pool's own chatter stays out of the log; this store reports availability.
        var background = logger
        background.logLevel = .error
        client = PostgresClient(configuration: configuration, backgroundLogger: background)
    }

    private static func tls(_ mode: PostgresStorageSettings.TLSMode) -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
    }

    // MARK: Lifecycle

    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.client.run() }
            group.addTask { await self.listen() }
            await group.waitForAll()
        }
    }

    /// Holds one connection on `LISTEN` and passes each notification on; reconnects after a
    /// second when the connection is lost.
    private func listen() async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        // A change may have been missed while not listening.
                        changeContinuation.yield()
                        for try await _ in notifications { changeContinuation.yield() }
                    }
                }
            } catch {
                if Task.isCancelled { break }
            }
            do { try await Task.sleep(for: .seconds(1)) } catch { break }
        }
        changeContinuation.finish()
    }

    public func changes() -> AsyncStream<Void> { changeStream }

    /// Ends the notifications; the connections close when ``run()`` is cancelled.
    public func shutdown() async {
        changeContinuation.finish()
    }

    /// Runs the migrations not applied yet. Returns the versions it applied.
    @discardableResult
    public func migrate() async throws -> [Int] {
        try await bounded(.seconds(30)) { [self] in
            try await client.withTransaction(logger: logger) { connection in
                // One migrator at a time across every replica.
                try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(settings.schema)))", logger: logger)
                try await connection.query(
                    "CREATE SCHEMA IF NOT EXISTS \(unescaped: Self.quoted(settings.schema))", logger: logger)
                try await connection.query(
                    "SET LOCAL search_path TO \(unescaped: Self.quoted(settings.schema))", logger: logger)
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)", logger: logger)
                var current = 0
                for try await version in try await connection.query(
                    "SELECT coalesce(max(version), 0) FROM schema_version", logger: logger
                ).decode(Int.self) {
                    current = version
                }
                var applied: [Int] = []
                for (index, statements) in PostgresMigrations.all.enumerated() where index + 1 > current {
                    for statement in statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query("INSERT INTO schema_version (version) VALUES (\(index + 1))", logger: logger)
                    applied.append(index + 1)
                }
                return applied
            }
        }
    }

    /// The schema version the database is at (0: none).
    public func schemaVersion() async throws -> Int {
        try await bounded { [self] in
            let exists = try await client.query(
                "SELECT to_regclass(\(settings.schema + ".schema_version")) IS NOT NULL", logger: logger)
            for try await present in exists.decode(Bool.self) where !present { return 0 }
            for try await version in try await client.query(
                "SELECT coalesce(max(version), 0) FROM schema_version", logger: logger
            ).decode(Int.self) {
                return version
            }
            return 0
        }
    }

    public func prepare() async throws {
        try await migrate()
        _ = try await heartbeat(lease: .seconds(3600))
    }

    // MARK: Budget

    public func reserve(_ request: SharedReservationRequest) async throws -> SharedReservationResult {
        try await bounded { [self] in
            let limits = request.limits.map { $0 ?? -1 }
            let rows = try await client.query(
                """
                SELECT refused, key, spent, reserved FROM mm_reserve(\(request.id), \(replicaID), \(request.keys), \
                \(limits), \(request.amount))
                """, logger: logger)
            var reserved: [SharedBudgetRow] = []
            for try await (refused, key, spent, held) in rows.decode((Bool, String, Int64, Int64).self) {
                let row = SharedBudgetRow(key: key, spent: spent, reserved: held)
                if refused { return SharedReservationResult.refused(row) }
                reserved.append(row)
            }
            return .reserved(reserved)
        }
    }

    public func settle(_ settlements: [SharedSettlement]) async throws -> [SharedBudgetRow] {
        guard !settlements.isEmpty else { return [] }
        let keys = settlements.flatMap(\.keys)
        let owners = settlements.enumerated().flatMap { index, item in Array(repeating: index + 1, count: item.keys.count) }
        return try await bounded { [self] in
            try await decodeRows(
                client.query(
                    """
                    SELECT key, spent, reserved, alerted FROM mm_settle_many(\(settlements.map(\.id)), \
                    \(settlements.map(\.actual)), \(keys), \(owners))
                    """, logger: logger))
        }
    }

    public func release(id: String) async throws {
        try await bounded { [self] in
            try await client.query("SELECT mm_release(\(id))", logger: logger)
        }
    }

    public func claimAlert(key: String) async throws -> Bool {
        try await bounded { [self] in
            let rows = try await client.query(
                "UPDATE budget SET alerted = true WHERE key = \(key) AND NOT alerted RETURNING key", logger: logger)
            for try await _ in rows.decode(String.self) { return true }
            return false
        }
    }

    public func budgetRows(keys: [String]) async throws -> [SharedBudgetRow] {
        try await bounded { [self] in
            try await decodeRows(
                client.query(
                    "SELECT key, spent, reserved, alerted FROM budget WHERE key = ANY(\(keys)) ORDER BY key",
                    logger: logger))
        }
    }

    /// Every ledger row (for `modelmesh storage migrate` and tests).
    public func allBudgetRows() async throws -> [SharedBudgetRow] {
        try await bounded { [self] in
            try await decodeRows(
                client.query("SELECT key, spent, reserved, alerted FROM budget ORDER BY key", logger: logger))
        }
    }

    /// Adds spend imported from elsewhere (the local-file store), once per `id`.
    public func importSpend(id: String, key: String, spent: Int64) async throws {
        _ = try await settle(id: id, keys: [key], actual: spent)
    }

    private func decodeRows(_ rows: PostgresRowSequence) async throws -> [SharedBudgetRow] {
        var result: [SharedBudgetRow] = []
        for try await (key, spent, reserved, alerted) in rows.decode((String, Int64, Int64, Bool).self) {
            result.append(SharedBudgetRow(key: key, spent: spent, reserved: reserved, alerted: alerted))
        }
        return result
    }

    // MARK: Health

    public func publish(_ records: [SharedHealthRecord]) async throws {
        guard !records.isEmpty else { return }
        try await bounded { [self] in
            try await client.withTransaction(logger: logger) { connection in
                for record in records {
                    try await connection.query(
                        """
                        INSERT INTO health (key, payload, origin, version) \
                        VALUES (\(record.key), \(record.payload), \(replicaID), nextval('health_version')) \
                        ON CONFLICT (key) DO UPDATE SET payload = excluded.payload, origin = excluded.origin, \
                        version = excluded.version, updated_at = now()
                        """, logger: logger)
                }
                try await connection.query("SELECT pg_notify(\(channel), \(replicaID))", logger: logger)
            }
        }
    }

    public func healthRecords() async throws -> [SharedHealthRecord] {
        try await bounded { [self] in
            var records: [SharedHealthRecord] = []
            let rows = try await client.query("SELECT key, payload, origin, version FROM health", logger: logger)
            for try await (key, payload, origin, version) in rows.decode((String, String, String, Int64).self) {
                records.append(SharedHealthRecord(key: key, payload: payload, origin: origin, version: version))
            }
            return records
        }
    }

    // MARK: Usage

    public func addUsage(_ deltas: [SharedUsageRow], day: String) async throws -> [SharedUsageRow] {
        try await bounded { [self] in
            let rows = try await client.query(
                """
                SELECT key, requests, tokens, cost, own FROM mm_usage(\(deltas.map(\.key)), \(deltas.map(\.requests)), \
                \(deltas.map(\.tokens)), \(deltas.map(\.cost)), \("|d:" + day))
                """, logger: logger)
            var result: [SharedUsageRow] = []
            for try await (key, requests, tokens, cost, own) in rows.decode((String, Int64, Int64, Int64, Bool).self) {
                result.append(SharedUsageRow(key: key, requests: requests, tokens: tokens, cost: cost, isOwn: own))
            }
            return result
        }
    }

    public func claimProbe(_ key: String, for duration: Duration) async throws -> Bool {
        try await bounded { [self] in
            let rows = try await client.query(
                """
                INSERT INTO probe_claims (key, holder, expires_at) \
                VALUES (\(key), \(replicaID), now() + \(Self.milliseconds(duration)) * interval '1 millisecond') \
                ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
                WHERE probe_claims.expires_at < now() OR probe_claims.holder = excluded.holder \
                RETURNING holder
                """, logger: logger)
            for try await _ in rows.decode(String.self) { return true }
            return false
        }
    }

    public func heartbeat(lease: Duration) async throws -> Int {
        try await bounded { [self] in
            let rows = try await client.query(
                "SELECT mm_heartbeat(\(replicaID), \(Self.milliseconds(lease)))", logger: logger)
            for try await released in rows.decode(Int.self) { return released }
            return 0
        }
    }

    // MARK: Helpers

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    static func quoted(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Runs `operation`, or throws ``PostgresStoreTimeout`` after `timeout` without waiting
    /// for it: PostgresNIO keeps a query waiting while it cannot connect.
    @discardableResult
    private func bounded<T: Sendable>(
        _ timeout: Duration? = nil, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let limit = timeout ?? operationTimeout
        let race = Race<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                race.start(continuation)
                let work = Task {
                    do { race.finish(.success(try await operation())) } catch { race.finish(.failure(error)) }
                }
                race.onTimeout(after: limit, cancelling: work)
            }
        } onCancel: {
            race.finish(.failure(CancellationError()))
        }
    }
}

/// A call to the shared store that took longer than its timeout.
public struct PostgresStoreTimeout: Error, CustomStringConvertible {
    public var description: String { "PostgreSQL did not answer in time" }
}

/// The first of an operation's result and its deadline wins.
private final class Race<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)
    private let result = Mutex<Result<T, any Error>?>(nil)
    private let timer = Mutex<Task<Void, Never>?>(nil)

    func start(_ continuation: CheckedContinuation<T, any Error>) {
        let early = result.withLock { $0 }
        if let early {
            continuation.resume(with: early)
            return
        }
        self.continuation.withLock { $0 = continuation }
        // A result may have arrived between the two locks.
        if let late = result.withLock({ $0 }) { resume(late) }
    }

    func finish(_ outcome: Result<T, any Error>) {
        let first = result.withLock { value -> Bool in
            guard value == nil else { return false }
            value = outcome
            return true
        }
        if first {
            timer.withLock { $0 }?.cancel()
            resume(outcome)
        }
    }

    func onTimeout(after limit: Duration, cancelling work: Task<Void, Never>) {
        let task = Task {
            do { try await Task.sleep(for: limit) } catch { return }
            work.cancel()
            self.finish(.failure(PostgresStoreTimeout()))
        }
        timer.withLock { $0 = task }
        if result.withLock({ $0 != nil }) { task.cancel() }
    }

    private func resume(_ outcome: Result<T, any Error>) {
        let waiting = continuation.withLock { value -> CheckedContinuation<T, any Error>? in
            defer { value = nil }
            return value
        }
        waiting?.resume(with: outcome)
    }
}

import Foundation

/// State shared by every replica of one mesh (`modelmesh.postgres.v1`): model and provider
/// states, half-open probe claims and the budget ledger.
///
/// The engine keeps its hot-path reads in memory and talks to the store only for budget
/// reservations (when limits are set), for publishing its own transitions, and in the
/// background. Every method may throw when the store is unreachable; the engine then
/// routes on its last known state and follows `storage.on_unavailable` for budgets.
///
/// Money crosses this interface as whole nano-dollars (1e-9 USD), so sums are exact.
public protocol SharedStateStore: Sendable {
    /// This process's id among the replicas (holder of its reservations and probe claims).
    var replicaID: String { get }

    /// Runs the store's connections until the task is cancelled.
    func run() async

    /// Creates or migrates the schema, and registers this replica. Safe to call from every
    /// replica at once.
    func prepare() async throws

    /// Reserves `request.amount` on every key in one transaction, or on none.
    func reserve(_ request: SharedReservationRequest) async throws -> SharedReservationResult

    /// For each settlement, adds `actual` to the spend of its keys and gives back what its
    /// reservation held, once: a settlement replayed after a lost answer changes nothing.
    /// Returns the rows of every key involved.
    func settle(_ settlements: [SharedSettlement]) async throws -> [SharedBudgetRow]

    /// Gives back what reservation `id` held; nothing when it is gone already.
    func release(id: String) async throws

    /// Marks the alert of `key` as raised; true for the one caller that marked it.
    func claimAlert(key: String) async throws -> Bool

    /// The ledger rows of `keys`.
    func budgetRows(keys: [String]) async throws -> [SharedBudgetRow]

    /// Stores the current state of each record's key and tells the other replicas.
    func publish(_ records: [SharedHealthRecord]) async throws

    /// Every stored model and provider state.
    func healthRecords() async throws -> [SharedHealthRecord]

    /// Adds this replica's usage to the shared counters and returns the day's counters of
    /// every model: those it added to as they stood right after its addition (`isOwn`), so
    /// exactly one replica sees its own addition reach a limit.
    func addUsage(_ deltas: [SharedUsageRow], day: String) async throws -> [SharedUsageRow]

    /// Claims the half-open probe `key` for `duration`; false while another replica holds it
    /// (the holder may claim it again).
    func claimProbe(_ key: String, for duration: Duration) async throws -> Bool

    /// Records that this replica is alive and releases the reservations of replicas not
    /// seen for `lease`; returns how many it released.
    func heartbeat(lease: Duration) async throws -> Int

    /// Signals when another replica published a change (LISTEN/NOTIFY). The stream ends
    /// when the store shuts down.
    func changes() -> AsyncStream<Void>

    /// Closes the store's connections.
    func shutdown() async
}

/// One reservation: the same amount on each key, each key under its own limit.
public struct SharedReservationRequest: Sendable, Hashable {
    public var id: String
    /// `scope|d:YYYY-MM-DD` and `scope|m:YYYY-MM` keys, sorted.
    public var keys: [String]
    /// The limit of each key in nano-dollars; nil: tracked, not enforced.
    public var limits: [Int64?]
    public var amount: Int64

    public init(id: String, keys: [String], limits: [Int64?], amount: Int64) {
        self.id = id
        self.keys = keys
        self.limits = limits
        self.amount = amount
    }
}

/// What a reservation found.
public enum SharedReservationResult: Sendable, Hashable {
    /// Reserved; the rows after the reservation.
    case reserved([SharedBudgetRow])
    /// Refused: `row` is the key whose limit the amount would break, as it stood.
    case refused(SharedBudgetRow)
}

/// The real cost of one reserved request, for its keys.
public struct SharedSettlement: Sendable, Hashable {
    public var id: String
    public var keys: [String]
    /// Nano-dollars.
    public var actual: Int64

    public init(id: String, keys: [String], actual: Int64) {
        self.id = id
        self.keys = keys
        self.actual = actual
    }
}

extension SharedStateStore {
    /// Settles one reservation.
    public func settle(id: String, keys: [String], actual: Int64) async throws -> [SharedBudgetRow] {
        try await settle([SharedSettlement(id: id, keys: keys, actual: actual)])
    }
}

/// A model's usage in one UTC day (`usage:chat/openai.gpt-4o|d:2026-12-03`): a delta to add,
/// or the mesh's total.
public struct SharedUsageRow: Sendable, Hashable {
    public var key: String
    public var requests: Int64
    public var tokens: Int64
    /// Nano-dollars.
    public var cost: Int64
    /// In an answer of ``SharedStateStore/addUsage(_:day:)``: the total right after this
    /// replica's own addition.
    public var isOwn: Bool

    public init(key: String, requests: Int64, tokens: Int64, cost: Int64, isOwn: Bool = false) {
        self.key = key
        self.requests = requests
        self.tokens = tokens
        self.cost = cost
        self.isOwn = isOwn
    }
}

/// One ledger row: a scope in a period (`global|d:2026-12-03`, `global|m:2026-12`,
/// `global|total`).
public struct SharedBudgetRow: Sendable, Hashable {
    public var key: String
    public var spent: Int64
    public var reserved: Int64
    public var alerted: Bool

    public init(key: String, spent: Int64, reserved: Int64, alerted: Bool = false) {
        self.key = key
        self.spent = spent
        self.reserved = reserved
        self.alerted = alerted
    }
}

/// The latest state of one model in one pool (`model:<pool>/<model>`) or of one provider
/// (`provider:<id>`), as the replica that changed it last published it.
public struct SharedHealthRecord: Sendable, Hashable {
    public var key: String
    /// JSON of the state.
    public var payload: String
    /// The replica that published it.
    public var origin: String
    /// Grows with every publication of any key (assigned by the store).
    public var version: Int64

    public init(key: String, payload: String, origin: String, version: Int64 = 0) {
        self.key = key
        self.payload = payload
        self.origin = origin
        self.version = version
    }
}

/// Builds the shared store a configuration names.
public typealias SharedStateStoreFactory = @Sendable (StorageConfiguration) throws -> any SharedStateStore

/// Money in the shared ledger: whole nano-dollars.
enum NanoDollars {
    /// Whole nano-dollars, clamped: a cost computed from an upstream's usage report must not
    /// trap the conversion (a billion dollars is far beyond any limit).
    static func from(_ usd: Double) -> Int64 {
        guard usd.isFinite else { return usd > 0 ? maximum : 0 }
        return Int64((Swift.min(Swift.max(usd, -1e9), 1e9) * 1e9).rounded())
    }

    static let maximum = Int64(1e18)
    static func usd(_ nanos: Int64) -> Double { Double(nanos) / 1e9 }
}

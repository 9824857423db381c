import Foundation
import Logging
import Synchronization

/// A mesh's side of the shared store: budget reservations against it, this replica's
/// transitions published to it, the other replicas' transitions applied from it, and what
/// happens while it is away.
///
/// Hot-path reads never wait for it: routing reads the in-memory pools, and only a
/// request whose budget scopes have limits makes one round trip (its reservation).
/// Settlements, releases and publications go through queues that a background loop drains,
/// so losing the store delays them and loses none.
final class SharedState: Sendable {
    let store: any SharedStateStore
    let settings: StorageConfiguration
    let ledger: BudgetLedger
    let clock: any MeshClock
    let logger = Logger(label: "modelmesh.storage")

    /// Whether the store answered last time it was asked.
    struct Availability: Sendable {
        /// nil until the first attempt finished.
        var available: Bool?
        /// Schema migrated and this replica registered.
        var prepared = false
        /// Times the store became unreachable.
        var outages = 0
        /// Why it is unreachable (no secrets: the error's kind and the server's message).
        var lastError: String?
        var since: Date?
        /// When it last came back: a failure soon after (connections the server cut while it
        /// was away failing one by one) continues that outage rather than starting one.
        var recoveredAt: Date?
        /// The current unavailability continues an outage already logged and counted.
        var continuation = false
    }

    /// How long after a recovery a failure still belongs to the same outage.
    static let settleTime: TimeInterval = 5

    enum Pending: Sendable {
        case settle(id: String, keys: [String], actual: Int64)
        case release(id: String)
    }

    private let availability = Mutex(Availability())
    /// The first connection (migrations, registration), shared by whoever needs it first.
    private let firstContact = Mutex<Task<Void, Never>?>(nil)
    /// Keys whose local state changed and is not published yet.
    private let dirty = Mutex<Set<String>>([])
    /// Settlements and releases not delivered yet, oldest first, and how many are on their way.
    private struct Outbox {
        var items: [Pending] = []
        var inFlight = 0
    }
    private let outbox = Mutex(Outbox())
    /// Version of the last record applied, per key.
    private let applied = Mutex<[String: Int64]>([:])
    private let syncWake: AsyncStream<Void>
    private let syncContinuation: AsyncStream<Void>.Continuation
    private let outboxWake: AsyncStream<Void>
    private let outboxContinuation: AsyncStream<Void>.Continuation

    init(store: any SharedStateStore, settings: StorageConfiguration, ledger: BudgetLedger, clock: any MeshClock) {
        self.store = store
        self.settings = settings
        self.ledger = ledger
        self.clock = clock
        (syncWake, syncContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        (outboxWake, outboxContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    var status: Availability { availability.withLock { $0 } }

    /// Whether the store is reachable (false before the first successful contact).
    var isAvailable: Bool { availability.withLock { $0.available == true && $0.prepared } }

    // MARK: Availability

    func markAvailable() {
        let now = clock.now()
        let (back, announce) = availability.withLock { a -> (Bool, Bool) in
            defer {
                a.available = true
                a.lastError = nil
                a.since = nil
                a.continuation = false
            }
            guard a.available == false else { return (false, false) }
            a.recoveredAt = now
            return (true, !a.continuation)
        }
        guard back else { return }
        if announce {
            logger.notice("The shared store is reachable again; reconciling", metadata: ["replica": "\(store.replicaID)"])
        }
        syncContinuation.yield()
        outboxContinuation.yield()
    }

    func markUnavailable(_ error: any Error) {
        let reason = Self.describe(error)
        let now = clock.now()
        let lost = availability.withLock { a -> Bool in
            defer {
                a.available = false
                a.lastError = reason
            }
            guard a.available != false else { return false }
            if let back = a.recoveredAt, now.timeIntervalSince(back) < Self.settleTime {
                a.continuation = true
                return false
            }
            a.outages += 1
            a.since = now
            return true
        }
        if lost {
            logger.error(
                "The shared store is unreachable; routing on the last known state",
                metadata: ["error": "\(reason)", "on_unavailable": "\(settings.onUnavailable.rawValue)"])
        }
    }

    /// An error's kind without connection strings or credentials.
    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        return text.count > 300 ? String(text.prefix(300)) + "…" : text
    }

    // MARK: Budget

    enum ReserveFailure: Error {
        case budget(BudgetError)
        case unavailable(ModelMeshError)
    }

    /// Reserves `estimate` for one attempt in every scope, in the shared store (one round
    /// trip); while it is away, by `on_unavailable`.
    func reserve(scopes: [BudgetLedger.ScopeKey], estimate: Double, now: Date, poolID: String) async
        -> Result<BudgetLedger.Reservation, ReserveFailure>
    {
        if let refusal = ledger.perRequestRefusal(scopes: scopes, estimate: estimate) {
            return .failure(.budget(BudgetError(refusal: refusal)))
        }
        let plan = ledger.sharedPlan(scopes: scopes, now: now)
        let id = UUID().uuidString
        // A replica just started waits for its first contact rather than refusing.
        if status.available == nil { await prepare() }
        if isAvailable {
            do {
                let result = try await store.reserve(
                    SharedReservationRequest(
                        id: id, keys: plan.keys, limits: plan.limits, amount: NanoDollars.from(estimate)))
                markAvailable()
                switch result {
                case .reserved(let rows):
                    ledger.absorb(rows)
                    return .success(
                        ledger.sharedReservation(id: id, scopes: scopes, estimate: estimate, plan: plan, isLocal: false))
                case .refused(let row):
                    ledger.absorb([row])
                    return .failure(.budget(BudgetError(refusal: ledger.refusal(from: row, estimate: estimate))))
                }
            } catch {
                markUnavailable(error)
            }
        }
        switch settings.onUnavailable {
        case .failClosed:
            return .failure(
                .unavailable(
                    ModelMeshError(
                        .storageUnavailable,
                        "Request refused before sending: the shared budget store is unreachable and this request's "
                            + "budget scopes have limits",
                        hint: "Bring PostgreSQL back, or set storage.on_unavailable: fail_open to spend against "
                            + "each replica's last known figures meanwhile",
                        poolID: poolID)))
        case .failOpen:
            switch ledger.reserve(scopes: scopes, estimate: estimate, now: now) {
            case .failure(let error): return .failure(.budget(error))
            case .success:
                return .success(
                    ledger.sharedReservation(id: id, scopes: scopes, estimate: estimate, plan: plan, isLocal: true))
            }
        }
    }

    /// Settles in the mirror now and in the store through the outbox.
    func settle(_ reservation: BudgetLedger.Reservation, actual: Double?, now: Date) {
        ledger.settle(reservation, actual: actual, now: now, raiseAlerts: false)
        guard let id = reservation.sharedID else { return }
        let plan = ledger.sharedPlan(scopes: reservation.scopes, now: now)
        // The period keys are the reservation's own, even when the day turned meanwhile.
        let keys = plan.settleKeys.map {
            $0.replacingOccurrences(of: "|d:\(plan.day)", with: "|d:\(reservation.dayKey)")
                .replacingOccurrences(of: "|m:\(plan.month)", with: "|m:\(reservation.monthKey)")
        }
        enqueue(.settle(id: id, keys: keys, actual: NanoDollars.from(actual ?? reservation.amount)))
    }

    func release(_ reservation: BudgetLedger.Reservation) {
        ledger.release(reservation)
        guard let id = reservation.sharedID, !reservation.isLocal else { return }
        enqueue(.release(id: id))
    }

    private func enqueue(_ pending: Pending) {
        outbox.withLock { $0.items.append(pending) }
        outboxContinuation.yield()
    }

    /// Settlements and releases not delivered yet (those on their way included).
    var pendingCount: Int { outbox.withLock { $0.items.count + $0.inFlight } }

    /// Delivers the outbox, oldest first: the settlements of a round in one call (the rows
    /// every request shares are locked once for all of them), the releases beside it. What
    /// fails stays for the next round.
    func drainOutbox() async {
        while isAvailable {
            let batch = outbox.withLock { box -> [Pending] in
                let batch = Array(box.items.prefix(Self.outboxBatch))
                box.items.removeFirst(batch.count)
                box.inFlight = batch.count
                return batch
            }
            guard !batch.isEmpty else { return }
            var settlements: [SharedSettlement] = []
            var releases: [String] = []
            for item in batch {
                switch item {
                case .settle(let id, let keys, let actual): settlements.append(SharedSettlement(id: id, keys: keys, actual: actual))
                case .release(let id): releases.append(id)
                }
            }
            let toSettle = settlements
            let toRelease = releases
            let failed = await withTaskGroup(of: [Pending].self) { group -> [Pending] in
                if !toSettle.isEmpty {
                    group.addTask {
                        await self.deliver(toSettle)
                            ? [] : toSettle.map { .settle(id: $0.id, keys: $0.keys, actual: $0.actual) }
                    }
                }
                for id in toRelease { group.addTask { await self.deliverRelease(id) ? [] : [.release(id: id)] } }
                var failed: [Pending] = []
                for await items in group { failed += items }
                return failed
            }
            outbox.withLock { box in
                box.items.insert(contentsOf: failed, at: 0)
                box.inFlight = 0
            }
            if !failed.isEmpty { return }
        }
    }

    /// Settlements and releases one round of the outbox delivers at most.
    static let outboxBatch = 64

    private func deliver(_ settlements: [SharedSettlement]) async -> Bool {
        do {
            let rows = try await store.settle(settlements)
            ledger.absorb(rows)
            for (key, alert) in ledger.alertsDue(rows, now: clock.now()) {
                if try await store.claimAlert(key: key) { ledger.raise(alert) }
            }
            markAvailable()
            return true
        } catch {
            markUnavailable(error)
            return false
        }
    }

    private func deliverRelease(_ id: String) async -> Bool {
        do {
            try await store.release(id: id)
            markAvailable()
            return true
        } catch {
            markUnavailable(error)
            return false
        }
    }

    // MARK: Health

    static func modelKey(pool: String, model: String) -> String { "model:\(pool)/\(model)" }
    static func providerKey(_ provider: String) -> String { "provider:\(provider)" }

    /// A local state changed: publish it soon.
    func changed(_ key: String) {
        dirty.withLock { _ = $0.insert(key) }
        syncContinuation.yield()
    }

    /// Claims the half-open probe of `model` in `pool` for the mesh; false when another
    /// replica runs it. Without the store, this replica probes on its own.
    func claimProbe(pool: String, model: String, for duration: Duration) async -> Bool {
        guard isAvailable else { return true }
        do {
            let claimed = try await store.claimProbe("\(pool)/\(model)", for: duration)
            markAvailable()
            return claimed
        } catch {
            markUnavailable(error)
            return true
        }
    }

    // MARK: Background

    /// Runs the store and keeps this replica in step with it until cancelled.
    func run(health: HealthCoordinator) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.store.run() }
            group.addTask {
                for await _ in self.store.changes() { self.syncContinuation.yield() }
            }
            group.addTask {
                while !Task.isCancelled {
                    do { try await self.clock.sleep(for: self.settings.pollInterval) } catch { return }
                    self.syncContinuation.yield()
                }
            }
            group.addTask {
                let beat = max(.milliseconds(200), self.settings.lease / 3)
                while !Task.isCancelled {
                    await self.heartbeat()
                    do { try await self.clock.sleep(for: beat) } catch { return }
                }
            }
            group.addTask {
                for await _ in self.outboxWake { await self.drainOutbox() }
            }
            group.addTask {
                await self.sync(health: health)
                for await _ in self.syncWake { await self.sync(health: health) }
            }
            await group.waitForAll()
        }
    }

    /// Stops the background loops' wake-ups (shutdown).
    func finish() {
        syncContinuation.finish()
        outboxContinuation.finish()
    }

    private func heartbeat() async {
        guard isAvailable else { return }
        do {
            let released = try await store.heartbeat(lease: settings.lease)
            if released > 0 {
                logger.notice(
                    "Released the reservations of replicas that stopped reporting",
                    metadata: ["reservations": "\(released)"])
            }
        } catch {
            markUnavailable(error)
        }
    }

    /// Adds the usage counted here to the mesh's counters and takes the totals back, so the
    /// limits behind them (`request_limit`, `token_limit`, `budget_limit` of a pool's
    /// deactivation policy) count every replica's requests.
    private func syncUsage(health: HealthCoordinator) async throws {
        let added = health.takeUnsyncedUsage()
        let totals: [SharedUsageRow]
        do {
            totals = try await store.addUsage(added, day: BudgetLedger.periodKeys(clock.now()).0)
        } catch {
            health.restoreUnsyncedUsage(added)
            throw error
        }
        health.absorbSharedUsage(totals, added: added)
    }

    /// Migrates and registers this replica once; callers arriving meanwhile wait for the same
    /// attempt. After a failure, the next call tries again.
    func prepare() async {
        if availability.withLock({ $0.prepared }) { return }
        let task = firstContact.withLock { current -> Task<Void, Never> in
            if let current { return current }
            let task = Task {
                do {
                    try await self.store.prepare()
                    self.availability.withLock { $0.prepared = true }
                    self.logger.info("Connected to the shared store", metadata: ["replica": "\(self.store.replicaID)"])
                    self.markAvailable()
                } catch {
                    self.markUnavailable(error)
                }
                self.firstContact.withLock { $0 = nil }
            }
            current = task
            return task
        }
        await task.value
    }

    /// One round: prepare if needed, read what changed elsewhere, share the usage counters,
    /// apply what was read, refresh the budget mirror, publish what changed here, and
    /// deliver the outbox.
    ///
    /// The order is the consistency promise: a replica shares its usage before it publishes
    /// the transitions that usage caused, and reads the transitions before the usage, so a
    /// model seen out for a usage limit is seen with the counts that took it there.
    func sync(health: HealthCoordinator) async {
        do {
            await prepare()
            guard availability.withLock({ $0.prepared }) else { return }
            let records = try await store.healthRecords()
            try await syncUsage(health: health)
            for record in records where record.origin != store.replicaID {
                let isNew = applied.withLock { map -> Bool in
                    guard record.version > map[record.key] ?? 0 else { return false }
                    map[record.key] = record.version
                    return true
                }
                // A change made here meanwhile wins: it is published below.
                if isNew, !dirty.withLock({ $0.contains(record.key) }) { health.adoptShared(record) }
            }
            if ledger.hasLimits { ledger.absorb(try await store.budgetRows(keys: ledger.currentSharedKeys(now: clock.now()))) }
            let keys = dirty.withLock { set -> Set<String> in
                defer { set.removeAll() }
                return set
            }
            do {
                let records = keys.sorted().compactMap { health.sharedRecord(for: $0, origin: store.replicaID) }
                if !records.isEmpty { try await store.publish(records) }
            } catch {
                dirty.withLock { $0.formUnion(keys) }
                throw error
            }
            markAvailable()
        } catch {
            if !Task.isCancelled { markUnavailable(error) }
        }
        if pendingCount > 0 { outboxContinuation.yield() }
    }
}

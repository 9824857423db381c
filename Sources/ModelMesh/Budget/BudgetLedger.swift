import Foundation
import Synchronization

/// Spend per scope (global, provider, pool, model) against daily, monthly and per-request
/// limits, with reservations so concurrent requests cannot overspend together.
///
/// A request reserves its worst-case cost (estimated input + maximum output at the model's
/// price) before it is sent, and settles with the real cost after. Days and months are
/// UTC calendar periods. Spend is tracked for the scopes that have limits; with no limits
/// configured the ledger stays out of the routing path entirely (costs still reach the
/// statistics and request logs).
///
/// When settled spend in a day or month reaches `alert_threshold` × that period's limit, the
/// ledger raises an ``Alert``, once per scope and period: ``settle(_:actual:now:)`` returns
/// it, and the ledger hands it to its alert handler (built with an ``EventEmitter``, a
/// `warning` trace from component `budget`).
///
/// ```swift
/// let ledger = BudgetLedger(limits: ["global": BudgetLimits(daily: 10)], emitter: mesh.events)
/// ```
public final class BudgetLedger: Sendable {
    /// Identifies a spend scope: `global`, `provider:<id>`, `pool:<id>`, `model:<id>`.
    public typealias ScopeKey = String

    struct Period: Sendable, Codable {
        var key = ""
        var spent = 0.0
        var reserved = 0.0
        /// The alert of this period was raised (optional: state saved before alerts decodes).
        var alerted: Bool?

        mutating func roll(to newKey: String) {
            if key != newKey {
                key = newKey
                spent = 0
                reserved = 0
                alerted = nil
            }
        }

        /// Whether spend just reached `threshold` × `limit` for the first time this period.
        mutating func crossed(_ limit: Double?, threshold: Double) -> Double? {
            guard let limit, limit > 0, alerted != true, spent > 0, spent >= threshold * limit else { return nil }
            alerted = true
            return limit
        }
    }

    struct ScopeState: Sendable, Codable {
        var day = Period()
        var month = Period()
        var total = 0.0
    }

    /// Money held for one in-flight request.
    public struct Reservation: Sendable {
        public let scopes: [ScopeKey]
        public let amount: Double
        let dayKey: String
        let monthKey: String
        /// The reservation's id in the shared store; nil when only this ledger knows it.
        var sharedID: String? = nil
        /// Held in this ledger (not the shared store's), though its spend goes to the shared
        /// store: reserved while the store was unreachable under `on_unavailable: fail_open`.
        var isLocal = true
    }

    /// A scope whose settled spend in one period reached its alert threshold.
    public struct Alert: Sendable, Hashable {
        /// Which limit the alert is about.
        public enum Period: String, Sendable, Hashable, CaseIterable {
            case daily, monthly
        }

        /// The component of the alert's trace entry.
        public static let component = "budget"

        /// `global`, `provider:<id>`, `pool:<id>` or `model:<id>`.
        public var scope: ScopeKey
        public var period: Period
        /// The UTC period: `2026-01-15` for a day, `2026-01` for a month.
        public var periodKey: String
        /// The period's limit, USD.
        public var limit: Double
        /// Settled spend in the period, USD.
        public var spent: Double
        /// The scope's `alert_threshold`, a fraction of the limit.
        public var threshold: Double
        /// When the settlement that raised it happened.
        public var raisedAt: Date

        public init(
            scope: ScopeKey, period: Period, periodKey: String, limit: Double, spent: Double, threshold: Double,
            raisedAt: Date = Date()
        ) {
            self.scope = scope
            self.period = period
            self.periodKey = periodKey
            self.limit = limit
            self.spent = spent
            self.threshold = threshold
            self.raisedAt = raisedAt
        }

        /// The alert as a `warning` trace entry from component `budget`, stamped ``raisedAt``,
        /// with metadata `scope`, `period`, `period_key`, `limit`, `spent` and `threshold`.
        public var traceEntry: TraceEntry {
            TraceEntry(
                severity: .warning, timestamp: raisedAt, component: Self.component,
                message: "Budget alert: \(scope) \(period.rawValue) spend $\(BudgetError.money(spent)) reached "
                    + "\(Int((threshold * 100).rounded()))% of its $\(BudgetError.money(limit)) limit",
                metadata: [
                    "scope": .string(scope), "period": .string(period.rawValue), "period_key": .string(periodKey),
                    "limit": .double(limit), "spent": .double(spent), "threshold": .double(threshold),
                ])
        }
    }

    /// A limit a request would break.
    public struct Refusal: Sendable, Equatable {
        /// e.g. `provider:openai.daily`.
        public var limit: String
        public var remaining: Double
        public var estimate: Double
    }

    private let limitsCell: Mutex<[ScopeKey: BudgetLimits]>
    private var limits: [ScopeKey: BudgetLimits] { limitsCell.withLock { $0 } }
    private let state = Mutex<[ScopeKey: ScopeState]>([:])
    private let onAlert: (@Sendable (Alert) -> Void)?

    /// A ledger enforcing `limits` keyed by scope.
    ///
    /// - Parameter onAlert: called (outside the ledger's lock) with each alert ``settle(_:actual:now:)`` raises.
    public init(limits: [ScopeKey: BudgetLimits], onAlert: (@Sendable (Alert) -> Void)? = nil) {
        limitsCell = Mutex(limits.filter { !$0.value.isEmpty })
        self.onAlert = onAlert
    }

    /// Replaces the limits (a configuration reload). Spend and reservations stay: a scope
    /// keeps what it spent today under its new limit.
    func replaceLimits(_ limits: [ScopeKey: BudgetLimits]) {
        limitsCell.withLock { $0 = limits.filter { !$0.value.isEmpty } }
    }

    /// A ledger enforcing `limits` that sends each alert to `emitter` as a `warning` trace
    /// (``Alert/traceEntry``).
    public convenience init(limits: [ScopeKey: BudgetLimits], emitter: EventEmitter) {
        self.init(limits: limits) { [weak emitter] alert in emitter?.trace(alert.traceEntry) }
    }

    /// Whether any limit is configured (otherwise the routing path skips the ledger).
    public var hasLimits: Bool { !limits.isEmpty }

    /// The scopes that apply to a model call.
    public static func scopes(model: String, provider: String, pool: String?) -> [ScopeKey] {
        var keys = ["global", "provider:\(provider)", "model:\(model)"]
        if let pool { keys.append("pool:\(pool)") }
        return keys
    }

    /// The first limit that `estimate` more would break, without reserving anything.
    public func check(scopes: [ScopeKey], estimate: Double, now: Date) -> Refusal? {
        guard hasLimits else { return nil }
        let (day, month) = Self.periodKeys(now)
        return state.withLock { map in firstBreach(in: &map, scopes: scopes, estimate: estimate, day: day, month: month) }
    }

    /// Reserves `estimate` in every scope, or returns the limit it would break.
    public func reserve(scopes: [ScopeKey], estimate: Double, now: Date) -> Result<Reservation, BudgetError> {
        guard hasLimits else { return .success(Reservation(scopes: [], amount: estimate, dayKey: "", monthKey: "")) }
        let (day, month) = Self.periodKeys(now)
        let reservation = Reservation(scopes: scopes, amount: estimate, dayKey: day, monthKey: month)
        return state.withLock { map in
            if let refusal = firstBreach(in: &map, scopes: scopes, estimate: estimate, day: day, month: month) {
                return .failure(BudgetError(refusal: refusal))
            }
            for scope in scopes where limits[scope] != nil {
                map[scope, default: ScopeState()].day.reserved += estimate
                map[scope, default: ScopeState()].month.reserved += estimate
            }
            return .success(reservation)
        }
    }

    /// Replaces the reservation with the real cost. With `actual == nil` (the cost is unknown:
    /// an answer or a stream that ended without usage) the whole reservation is kept as spent;
    /// a stream its caller abandoned is settled at an estimate of what it delivered instead.
    ///
    /// - Parameter now: when the request was settled, for the alerts' timestamps.
    /// - Returns: the alerts this settlement raised: each scope whose daily or monthly spend
    ///   reached its `alert_threshold` × limit for the first time in the reservation's period.
    ///   They also go to the ledger's alert handler.
    @discardableResult
    public func settle(_ reservation: Reservation, actual: Double?, now: Date = Date()) -> [Alert] {
        settle(reservation, actual: actual, now: now, raiseAlerts: true)
    }

    /// ``settle(_:actual:now:)``; with `raiseAlerts: false` (a mirror of the shared ledger,
    /// whose alerts are raised once for the mesh) no alert is returned or handed on.
    @discardableResult
    func settle(_ reservation: Reservation, actual: Double?, now: Date, raiseAlerts: Bool) -> [Alert] {
        guard !reservation.scopes.isEmpty else { return [] }
        let cost = actual ?? reservation.amount
        let alerts = state.withLock { map -> [Alert] in
            var alerts: [Alert] = []
            for scope in reservation.scopes {
                var s = map[scope, default: ScopeState()]
                let limit = limits[scope]
                if limit != nil {
                    if s.day.key == reservation.dayKey { s.day.reserved = Self.unreserve(reservation.amount, from: s.day.reserved) }
                    if s.month.key == reservation.monthKey {
                        s.month.reserved = Self.unreserve(reservation.amount, from: s.month.reserved)
                    }
                }
                s.day.roll(to: reservation.dayKey)
                s.month.roll(to: reservation.monthKey)
                s.day.spent += cost
                s.month.spent += cost
                s.total += cost
                if let limit {
                    if let daily = s.day.crossed(limit.daily, threshold: limit.alertThreshold) {
                        alerts.append(
                            Alert(
                                scope: scope, period: .daily, periodKey: s.day.key, limit: daily, spent: s.day.spent,
                                threshold: limit.alertThreshold, raisedAt: now))
                    }
                    if let monthly = s.month.crossed(limit.monthly, threshold: limit.alertThreshold) {
                        alerts.append(
                            Alert(
                                scope: scope, period: .monthly, periodKey: s.month.key, limit: monthly,
                                spent: s.month.spent, threshold: limit.alertThreshold, raisedAt: now))
                    }
                }
                map[scope] = s
            }
            return alerts
        }
        guard raiseAlerts else { return [] }
        if let onAlert {
            for alert in alerts { onAlert(alert) }
        }
        return alerts
    }

    /// Hands an alert to the alert handler (the shared ledger raised it for the mesh).
    func raise(_ alert: Alert) { onAlert?(alert) }

    /// The limits of one scope.
    func limits(of scope: ScopeKey) -> BudgetLimits? { limits[scope] }

    /// The scopes with limits.
    var limitScopes: [ScopeKey] { limits.keys.sorted() }

    /// Sets periods and totals to the shared store's figures (never moving a period back).
    func absorbRows(_ rows: [(row: SharedBudgetRow, scope: ScopeKey, period: String)]) {
        state.withLock { map in
            for (row, scope, period) in rows {
                var s = map[scope, default: ScopeState()]
                let spent = NanoDollars.usd(row.spent)
                let reserved = NanoDollars.usd(row.reserved)
                if period == "total" {
                    s.total = spent
                } else if period.hasPrefix("d:") || period.hasPrefix("m:") {
                    let key = String(period.dropFirst(2))
                    let current = period.hasPrefix("d:") ? s.day : s.month
                    guard key >= current.key else { continue }
                    let updated = Period(key: key, spent: spent, reserved: reserved, alerted: row.alerted ? true : nil)
                    if period.hasPrefix("d:") { s.day = updated } else { s.month = updated }
                }
                map[scope] = s
            }
        }
    }

    /// Gives a reservation back (the call failed, nothing was billed).
    public func release(_ reservation: Reservation) {
        guard hasLimits else { return }
        state.withLock { map in
            for scope in reservation.scopes where limits[scope] != nil {
                guard var s = map[scope] else { continue }
                if s.day.key == reservation.dayKey { s.day.reserved = Self.unreserve(reservation.amount, from: s.day.reserved) }
                if s.month.key == reservation.monthKey {
                    s.month.reserved = Self.unreserve(reservation.amount, from: s.month.reserved)
                }
                map[scope] = s
            }
        }
    }

    /// What stays reserved after giving `amount` back. Sums of many reservations leave
    /// rounding residue in a Double (1e-17 after 200 streams); less than a micro-dollar is none.
    static func unreserve(_ amount: Double, from reserved: Double) -> Double {
        let left = reserved - amount
        return left < 1e-6 ? 0 : left
    }

    /// Spend of one scope.
    public func spend(of scope: ScopeKey, now: Date) -> BudgetSpend {
        let (day, month) = Self.periodKeys(now)
        return state.withLock { map in
            let s = map[scope] ?? ScopeState()
            return BudgetSpend(
                daily: s.day.key == day ? s.day.spent : 0, monthly: s.month.key == month ? s.month.spent : 0,
                total: s.total, limits: limits[scope], reserved: s.day.key == day ? s.day.reserved : 0)
        }
    }

    /// Every scope with spend or limits.
    public func allScopes() -> [ScopeKey] {
        let keys = state.withLock { Set($0.keys) }.union(limits.keys)
        return keys.sorted()
    }

    /// The spend state, for storage.
    func exportState() -> Data? {
        try? JSONEncoder().encode(state.withLock { $0 })
    }

    /// Restores spend saved by ``exportState()`` (reservations are dropped: those requests died).
    func importState(_ data: Data) {
        guard var saved = try? JSONDecoder().decode([ScopeKey: ScopeState].self, from: data) else { return }
        for key in saved.keys {
            saved[key]?.day.reserved = 0
            saved[key]?.month.reserved = 0
        }
        state.withLock { $0 = saved }
    }

    private func firstBreach(
        in map: inout [ScopeKey: ScopeState], scopes: [ScopeKey], estimate: Double, day: String, month: String
    ) -> Refusal? {
        for scope in scopes {
            guard let limit = limits[scope], limit.enforce else { continue }
            if let perRequest = limit.perRequest, estimate > perRequest {
                return Refusal(limit: "\(scope).per_request", remaining: perRequest, estimate: estimate)
            }
            var s = map[scope] ?? ScopeState()
            s.day.roll(to: day)
            s.month.roll(to: month)
            map[scope] = s
            if let daily = limit.daily, s.day.spent + s.day.reserved + estimate > daily {
                return Refusal(
                    limit: "\(scope).daily", remaining: max(0, daily - s.day.spent - s.day.reserved), estimate: estimate)
            }
            if let monthly = limit.monthly, s.month.spent + s.month.reserved + estimate > monthly {
                return Refusal(
                    limit: "\(scope).monthly", remaining: max(0, monthly - s.month.spent - s.month.reserved),
                    estimate: estimate)
            }
        }
        return nil
    }

    /// `YYYY-MM-DD` and `YYYY-MM` of `date` in UTC.
    static func periodKeys(_ date: Date) -> (String, String) {
        let (y, m, d) = civilDate(daysSinceEpoch: Int((date.timeIntervalSince1970 / 86_400).rounded(.down)))
        guard (0...9999).contains(y) else {
            let month = "\(y)-\(m < 10 ? "0" : "")\(m)"
            return ("\(month)-\(d < 10 ? "0" : "")\(d)", month)
        }
        // Written digit by digit: both keys fit Swift's inline small strings, so this costs no
        // allocation, where interpolation cost several on every routing decision.
        let day = String(unsafeUninitializedCapacity: 10) { buffer in
            func digit(_ index: Int, _ value: Int) { buffer[index] = UInt8(ascii: "0") + UInt8(value) }
            digit(0, y / 1000)
            digit(1, y / 100 % 10)
            digit(2, y / 10 % 10)
            digit(3, y % 10)
            buffer[4] = UInt8(ascii: "-")
            digit(5, m / 10)
            digit(6, m % 10)
            buffer[7] = UInt8(ascii: "-")
            digit(8, d / 10)
            digit(9, d % 10)
            return 10
        }
        return (day, String(day.prefix(7)))
    }

    /// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01; pure
    /// arithmetic (Howard Hinnant's algorithm), since `Calendar` is too slow for a per-request path.
    static func civilDate(daysSinceEpoch: Int) -> (Int, Int, Int) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// Spend of one budget scope, USD.
public struct BudgetSpend: Sendable, Hashable {
    public var daily: Double
    public var monthly: Double
    public var total: Double
    public var limits: BudgetLimits?
    /// Held by requests in flight (today's period), USD: zero when the mesh is idle.
    public var reserved: Double = 0
}

/// A request refused because it would breach a budget.
public struct BudgetError: Error, Sendable {
    public var refusal: BudgetLedger.Refusal

    /// The engine error for the HTTP edge (402, `budget_exceeded`).
    public func meshError(poolID: String?) -> ModelMeshError {
        let r = refusal
        return ModelMeshError(
            .budgetExceeded,
            "Request refused before sending: it could cost up to $\(Self.money(r.estimate)), more than the "
                + "$\(Self.money(r.remaining)) left under the \(r.limit) limit",
            hint: "Raise the limit in the budget configuration, lower max_tokens, or wait for the period to reset",
            poolID: poolID, limit: r.limit, remaining: r.remaining)
    }

    static func money(_ value: Double) -> String { String(format: "%.6f", value) }
}

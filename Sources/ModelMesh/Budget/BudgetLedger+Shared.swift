import Foundation

/// The ledger as a mirror of the shared one (`modelmesh.postgres.v1`).
///
/// The shared store holds one row per scope and period: `global|d:2026-12-03`,
/// `global|m:2026-12` and `global|total`. Periods are keys, not resets: a new day is a new
/// row. Reservations are made there, atomically for every scope of a request; this ledger
/// takes the rows it hears back, so the filter stage and `/v1/mesh/state` read memory.
extension BudgetLedger {
    /// What one request reserves in the shared store and what its settlement adds to.
    struct SharedPlan: Sendable {
        /// The period keys of the scopes with limits, sorted (the lock order).
        var keys: [String]
        /// Each key's enforced limit in nano-dollars (nil: tracked only).
        var limits: [Int64?]
        /// Every period and total key of every scope, for the settlement.
        var settleKeys: [String]
        var day: String
        var month: String
    }

    static func sharedKey(_ scope: ScopeKey, day: String) -> String { "\(scope)|d:\(day)" }
    static func sharedKey(_ scope: ScopeKey, month: String) -> String { "\(scope)|m:\(month)" }
    static func sharedTotalKey(_ scope: ScopeKey) -> String { "\(scope)|total" }

    /// The per-request limit `estimate` breaks, if any: it needs no shared state.
    func perRequestRefusal(scopes: [ScopeKey], estimate: Double) -> Refusal? {
        for scope in scopes {
            guard let limit = limits(of: scope), limit.enforce, let perRequest = limit.perRequest else { continue }
            if estimate > perRequest {
                return Refusal(limit: "\(scope).per_request", remaining: perRequest, estimate: estimate)
            }
        }
        return nil
    }

    func sharedPlan(scopes: [ScopeKey], now: Date) -> SharedPlan {
        let (day, month) = Self.periodKeys(now)
        var pairs: [(String, Int64?)] = []
        var settleKeys: [String] = []
        for scope in scopes {
            settleKeys += [Self.sharedKey(scope, day: day), Self.sharedKey(scope, month: month), Self.sharedTotalKey(scope)]
            guard let limit = limits(of: scope) else { continue }
            pairs.append((Self.sharedKey(scope, day: day), limit.enforce ? limit.daily.map(NanoDollars.from) : nil))
            pairs.append((Self.sharedKey(scope, month: month), limit.enforce ? limit.monthly.map(NanoDollars.from) : nil))
        }
        pairs.sort { $0.0 < $1.0 }
        return SharedPlan(
            keys: pairs.map(\.0), limits: pairs.map(\.1), settleKeys: settleKeys.sorted(), day: day, month: month)
    }

    /// The keys `/v1/mesh/state` and the filter stage read today: every scope with limits.
    func currentSharedKeys(now: Date) -> [String] {
        let (day, month) = Self.periodKeys(now)
        return limitScopes.flatMap {
            [Self.sharedKey($0, day: day), Self.sharedKey($0, month: month), Self.sharedTotalKey($0)]
        }.sorted()
    }

    /// The refusal a shared row means for `estimate`.
    func refusal(from row: SharedBudgetRow, estimate: Double) -> Refusal {
        guard let (scope, period) = Self.parseSharedKey(row.key) else {
            return Refusal(limit: row.key, remaining: 0, estimate: estimate)
        }
        let limit = limits(of: scope)
        let isDay = period.hasPrefix("d:")
        let cap = (isDay ? limit?.daily : limit?.monthly) ?? 0
        let left = max(0, cap - NanoDollars.usd(row.spent) - NanoDollars.usd(row.reserved))
        return Refusal(limit: "\(scope).\(isDay ? "daily" : "monthly")", remaining: left, estimate: estimate)
    }

    /// Takes the shared store's figures for these rows.
    func absorb(_ rows: [SharedBudgetRow]) {
        guard !rows.isEmpty else { return }
        absorbRows(rows.compactMap { row in Self.parseSharedKey(row.key).map { (row, $0.0, $0.1) } })
    }

    /// The alerts the shared rows call for: settled spend of a period at its threshold and
    /// the alert not yet raised by any replica.
    func alertsDue(_ rows: [SharedBudgetRow], now: Date) -> [(key: String, alert: Alert)] {
        rows.compactMap { row in
            guard !row.alerted, let (scope, period) = Self.parseSharedKey(row.key), period != "total",
                let limit = limits(of: scope)
            else { return nil }
            let isDay = period.hasPrefix("d:")
            guard let cap = isDay ? limit.daily : limit.monthly, cap > 0 else { return nil }
            let spent = NanoDollars.usd(row.spent)
            guard spent > 0, spent >= limit.alertThreshold * cap else { return nil }
            return (
                row.key,
                Alert(
                    scope: scope, period: isDay ? .daily : .monthly, periodKey: String(period.dropFirst(2)),
                    limit: cap, spent: spent, threshold: limit.alertThreshold, raisedAt: now)
            )
        }
    }

    /// A reservation the shared store holds (or, `isLocal`, this ledger while it is away).
    func sharedReservation(id: String, scopes: [ScopeKey], estimate: Double, plan: SharedPlan, isLocal: Bool)
        -> Reservation
    {
        Reservation(
            scopes: scopes, amount: estimate, dayKey: plan.day, monthKey: plan.month, sharedID: id, isLocal: isLocal)
    }

    /// `scope|d:2026-12-03` → (`scope`, `d:2026-12-03`).
    static func parseSharedKey(_ key: String) -> (ScopeKey, String)? {
        guard let bar = key.lastIndex(of: "|") else { return nil }
        return (String(key[..<bar]), String(key[key.index(after: bar)...]))
    }
}

extension BudgetLedger {
    /// The settled spend of an ``exportState()`` as shared ledger rows (reservations are
    /// dropped: their requests ended with the process that wrote them).
    static func sharedRows(fromExport data: Data) -> [SharedBudgetRow] {
        guard let saved = try? JSONDecoder().decode([ScopeKey: ScopeState].self, from: data) else { return [] }
        var rows: [SharedBudgetRow] = []
        for (scope, state) in saved.sorted(by: { $0.key < $1.key }) {
            if !state.day.key.isEmpty, state.day.spent > 0 {
                rows.append(.init(key: sharedKey(scope, day: state.day.key), spent: NanoDollars.from(state.day.spent), reserved: 0))
            }
            if !state.month.key.isEmpty, state.month.spent > 0 {
                rows.append(
                    .init(key: sharedKey(scope, month: state.month.key), spent: NanoDollars.from(state.month.spent), reserved: 0))
            }
            if state.total > 0 {
                rows.append(.init(key: sharedTotalKey(scope), spent: NanoDollars.from(state.total), reserved: 0))
            }
        }
        return rows
    }
}

import Foundation
import ModelMesh
import Synchronization
import Testing

@Suite struct BudgetAlertTests {
    /// 2026-01-15T12:00:00Z.
    let now = Date(timeIntervalSince1970: 1_768_478_400)

    func spend(_ ledger: BudgetLedger, _ amount: Double, scopes: [String] = ["global"], at date: Date? = nil)
        -> [BudgetLedger.Alert]
    {
        let date = date ?? now
        guard case .success(let reservation) = ledger.reserve(scopes: scopes, estimate: amount, now: date) else {
            Issue.record("reservation refused")
            return []
        }
        return ledger.settle(reservation, actual: amount, now: date)
    }

    @Test func alertOncePerScopeAndPeriodWhenSettledSpendCrossesTheThreshold() {
        let ledger = BudgetLedger(limits: ["global": BudgetLimits(daily: 10)])
        #expect(spend(ledger, 5).isEmpty)
        // Reservations alone never alert: only settled spend counts.
        guard case .success(let held) = ledger.reserve(scopes: ["global"], estimate: 4, now: now) else {
            Issue.record("reservation refused")
            return
        }
        let alerts = ledger.settle(held, actual: 3.5, now: now)
        #expect(alerts.count == 1)
        let alert = alerts.first
        #expect(alert?.scope == "global")
        #expect(alert?.period == .daily)
        #expect(alert?.periodKey == "2026-01-15")
        #expect(alert?.limit == 10)
        #expect(alert?.spent == 8.5)
        #expect(alert?.threshold == 0.8)
        #expect(alert?.raisedAt == now)
        #expect(spend(ledger, 1).isEmpty)
        // The next UTC day is a new period.
        let tomorrow = now.addingTimeInterval(86_400)
        #expect(spend(ledger, 7.9, at: tomorrow).isEmpty)
        #expect(spend(ledger, 0.1, at: tomorrow).map(\.periodKey) == ["2026-01-16"])
    }

    @Test func dailyAndMonthlyLimitsAlertSeparatelyWithTheirOwnThreshold() {
        var limits = BudgetLimits(daily: 10, monthly: 20)
        limits.alertThreshold = 0.5
        let ledger = BudgetLedger(limits: ["provider:openai": limits, "model:m": BudgetLimits(monthly: 100)])
        let first = spend(ledger, 6, scopes: ["global", "provider:openai", "model:m"])
        #expect(first.map(\.period) == [.daily])
        #expect(first.first?.scope == "provider:openai")
        let second = spend(ledger, 4.9, scopes: ["provider:openai"], at: now.addingTimeInterval(86_400))
        #expect(second.map(\.period) == [.monthly])
        #expect(abs((second.first?.spent ?? 0) - 10.9) < 1e-9)
    }

    @Test func enforceOffStillAlerts() {
        var limits = BudgetLimits(daily: 1)
        limits.enforce = false
        let ledger = BudgetLedger(limits: ["global": limits])
        #expect(spend(ledger, 2).count == 1)
    }

    @Test func alertsReachTheHandlerAndTheEmitterAsWarningTraces() throws {
        let handled = Mutex<[BudgetLedger.Alert]>([])
        let withHandler = BudgetLedger(limits: ["global": BudgetLimits(daily: 1)]) { alert in
            handled.withLock { $0.append(alert) }
        }
        _ = spend(withHandler, 0.9)
        #expect(handled.withLock { $0.count } == 1)

        let emitter = EventEmitter()
        let recorder = RecordingConnector()
        emitter.subscribe(recorder)
        let ledger = BudgetLedger(limits: ["pool:chat": BudgetLimits(daily: 2)], emitter: emitter)
        _ = spend(ledger, 1.8, scopes: ["pool:chat"])
        let trace = try #require(recorder.traces.first)
        #expect(recorder.traces.count == 1)
        #expect(trace.severity == .warning)
        #expect(trace.component == "budget")
        #expect(trace.timestamp == now)
        #expect(trace.metadata["scope"] == .string("pool:chat"))
        #expect(trace.metadata["limit"] == .double(2))
        #expect(trace.metadata["spent"] == .double(1.8))
        #expect(trace.metadata["threshold"] == .double(0.8))
        #expect(trace.metadata["period"] == .string("daily"))
        #expect(trace.message.contains("pool:chat daily spend"))
    }

    @Test func alertThresholdIsValidated() {
        let issues = ConfigurationLoader.validate(
            yaml: "budget: {daily_limit: 5, alert_threshold: 1.2}", environment: [:])
        #expect(issues.map(\.path) == ["budget.alert_threshold"])
        #expect(issues.first?.kind == .invalidValue)
    }
}

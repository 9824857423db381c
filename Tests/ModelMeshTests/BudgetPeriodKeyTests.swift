import Foundation
import Testing

@testable import ModelMesh

@Suite("Budget period keys")
struct BudgetPeriodKeyTests {
    @Test(
        "Day and month keys are the UTC calendar date, zero-padded",
        arguments: [
            (0.0, "1970-01-01", "1970-01"),
            (951_782_400.0, "2000-02-29", "2000-02"),
            (1_795_737_599.0, "2026-11-26", "2026-11"),
            (1_795_737_600.0, "2026-11-27", "2026-11"),
            (-1.0, "1969-12-31", "1969-12"),
            (253_402_300_799.0, "9999-12-31", "9999-12"),
            (253_402_300_800.0, "10000-01-01", "10000-01"),
        ])
    func keys(seconds: Double, day: String, month: String) {
        let keys = BudgetLedger.periodKeys(Date(timeIntervalSince1970: seconds))
        #expect(keys.0 == day)
        #expect(keys.1 == month)
    }
}

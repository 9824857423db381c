import Foundation
import ModelMesh
import ModelMeshTesting
import Testing

@Suite struct MaintenanceWindowTests {
    /// 2026-01-15T12:00:00Z, a Thursday (the test clock's start).
    let thursdayNoon = Date(timeIntervalSince1970: 1_768_478_400)
    let utc = TimeZone(secondsFromGMT: 0) ?? .current

    func at(_ hours: Double, daysLater days: Double = 0) -> Date {
        thursdayNoon.addingTimeInterval((days * 24 + hours - 12) * 3600)
    }

    @Test func sameDayWindow() {
        let window = MaintenanceWindow(days: [.thursday], start: 11 * 60, end: 13 * 60, timeZone: utc)
        #expect(window.openUntil(at(10.99)) == nil)
        #expect(window.openUntil(at(11)) == at(13))
        #expect(window.openUntil(thursdayNoon) == at(13))
        #expect(window.openUntil(at(13)) == nil)
        #expect(window.openUntil(at(12, daysLater: 1)) == nil)  // Friday
        #expect(window.openUntil(at(12, daysLater: 7)) == at(13, daysLater: 7))
    }

    @Test func windowPastMidnightBelongsToTheDayItStarts() {
        let window = MaintenanceWindow(days: [.thursday], start: 23 * 60, end: 60, timeZone: utc)
        #expect(window.openUntil(at(22.5)) == nil)
        #expect(window.openUntil(at(23.5)) == at(25))
        #expect(window.openUntil(at(0.5, daysLater: 1)) == at(1, daysLater: 1))  // Friday 00:30
        #expect(window.openUntil(at(1, daysLater: 1)) == nil)
        #expect(window.openUntil(at(0.5)) == nil)  // Thursday 00:30 belongs to Wednesday's window
    }

    @Test func everyDayAndWholeDay() {
        let daily = MaintenanceWindow(start: 0, end: 60, timeZone: utc)
        for day in 0..<7 { #expect(daily.openUntil(at(0.5, daysLater: Double(day))) != nil) }
        let wholeThursday = MaintenanceWindow(days: [.thursday], start: 0, end: 24 * 60, timeZone: utc)
        #expect(wholeThursday.openUntil(thursdayNoon) == at(24))
    }

    @Test func timeZoneOffsetShiftsTheWindow() {
        // 13:00-14:00 at UTC+02:00 is 11:00-12:00 UTC.
        let window = MaintenanceWindow(
            days: [.thursday], start: 13 * 60, end: 14 * 60, timeZone: TimeZone(secondsFromGMT: 7200) ?? .current)
        #expect(window.openUntil(at(11.5)) == thursdayNoon)
        #expect(window.openUntil(thursdayNoon) == nil)
    }

    @Test func weekdayNames() {
        #expect(MaintenanceWindow.Weekday(name: "sat") == .saturday)
        #expect(MaintenanceWindow.Weekday(name: "Thursday") == .thursday)
        #expect(MaintenanceWindow.Weekday(name: "thurs") == .thursday)
        #expect(MaintenanceWindow.Weekday(name: "sa") == nil)
        #expect(MaintenanceWindow.Weekday(name: "satx") == nil)
    }

    @Test func modelInItsWindowIsFilteredOutUntilItCloses() async throws {
        let a = MockProvider(fallback: .reply("a"))
        let b = MockProvider(fallback: .reply("b"))
        let f = try MeshFixture(models: [("a", a), ("b", b)]) { pool in
            pool.strategy = "priority-selection"
            pool.deactivation.maintenanceWindows = [
                MaintenanceWindow(days: [.thursday], start: 11 * 60, end: 13 * 60, models: ["a"])
            ]
        }
        let request = ChatCompletionRequest(model: "chat", messages: [.user("hi")])
        let explanation = try f.mesh.explain(request)
        #expect(explanation.chain.map(\.modelID) == ["b"])
        #expect(explanation.filteredOut.map(\.modelID) == ["a"])
        #expect(explanation.filteredOut.map(\.reason) == ["maintenance_window"])
        #expect(explanation.filteredOut.first?.detail.contains("2026-01-15T13:00:00") == true)
        #expect(try await f.ask().modelID == "b")
        #expect(a.callCount == 0)
        // No lifecycle change: the model simply serves again once the window closes.
        #expect(f.recorder.events(.modelDeactivated).isEmpty)
        f.clock.advance(by: .seconds(3600))
        #expect(try f.mesh.explain(request).filteredOut.isEmpty)
        #expect(try await f.ask().modelID == "a")
    }

    @Test func windowFromYAMLFiltersEveryCoveredMember() async throws {
        let yaml = """
            providers:
              p: {connector: openai.llm.v1, api_key: k}
            models:
              vendor.a: {provider: p, capabilities: [chat]}
              vendor.b: {provider: p, capabilities: [chat]}
            pools:
              chat:
                capability: chat
                deactivation:
                  maintenance_window: {days: [thu], start: "11:30", end: "12:30", timezone: UTC, providers: [p]}
            """
        let configuration = try ConfigurationLoader.parse(yaml: yaml, environment: [:])
        var registry = ProviderRegistry()
        registry.register(provider: "p", instance: MockProvider(fallback: .reply("ok")))
        let clock = TestClock()
        let mesh = try Mesh(configuration: configuration, providers: registry, clock: clock)
        let request = ChatCompletionRequest(model: "chat", messages: [.user("hi")])
        let explanation = try mesh.explain(request)
        #expect(explanation.chain.isEmpty)
        #expect(explanation.filteredOut.map(\.reason) == ["maintenance_window", "maintenance_window"])
        await #expect {
            _ = try await mesh.route(request)
        } throws: { error in
            (error as? ModelMeshError)?.code == .noActiveModel
        }
        clock.advance(by: .seconds(1800))
        #expect(try await mesh.route(request).value.text == "ok")
    }
}

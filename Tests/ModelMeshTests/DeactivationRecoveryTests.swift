import Foundation
import ModelMesh
import ModelMeshTesting
import Testing

@Suite struct DeactivationRecoveryTests {
    @Test func consecutiveFailuresDeactivateThenAProbeBringsThePrimaryBack() async throws {
        let primary = MockProvider(script: Array(repeating: .fail(.serverError, status: 503), count: 3))
        let backup = MockProvider(fallback: .reply("backup"))
        let f = try MeshFixture(models: [("a", primary), ("b", backup)])
        let start = f.clock.now()

        _ = try await f.ask()  // three failures on a → deactivated, b answers

        let deactivated = f.recorder.events(.modelDeactivated)
        #expect(deactivated.count == 1)
        #expect(deactivated.first?.modelID == "a")
        #expect(deactivated.first?.providerID == "p-a")
        #expect(deactivated.first?.poolID == "chat")
        #expect(deactivated.first?.metadata["reason"] == "error_threshold")
        // Cooldown (60s) counts from the deactivation, after the 1.5s of backoff.
        let expectedUntil = Timestamp.format(start.addingTimeInterval(1.5 + 60))
        #expect(deactivated.first?.metadata["cooldown_until"] == .string(expectedUntil))

        // While cooling down, a is not even tried.
        let during = try await f.ask()
        #expect(during.modelID == "b")
        #expect(primary.callCount == 3)
        let state = f.mesh.describe().pools[0].members[0]
        #expect(state.state == .standby)
        #expect(state.reason == "error_threshold")

        // After the cooldown the next request probes a; success brings it back.
        f.clock.advance(by: .seconds(61))
        #expect(try f.mesh.explain(ChatCompletionRequest(model: "chat", messages: [.user("x")])).chain.first?.recoveryProbe == true)
        let probe = try await f.ask()
        #expect(probe.modelID == "a")
        let activated = f.recorder.events(.modelActivated)
        #expect(activated.count == 1)
        #expect(activated.first?.metadata["trigger"] == "probe_success")
        // Traffic stays on the primary afterwards.
        #expect(try await f.ask().modelID == "a")
        #expect(f.mesh.describe().pools[0].members[0].state == .active)
    }

    @Test func aFailedProbeDoublesTheCooldown() async throws {
        let primary = MockProvider(script: Array(repeating: .fail(.serverError, status: 500), count: 4))
        let f = try MeshFixture(models: [("a", primary), ("b", MockProvider())]) { pool in
            pool.recovery.cooldown = .seconds(10)
        }
        _ = try await f.ask()
        let firstUntil = try #require(f.mesh.describe().pools[0].members[0].cooldownUntil)
        f.clock.advance(by: .seconds(11))
        let probe = try await f.ask()  // probe fails once, then b answers
        #expect(probe.attempts.map(\.modelID) == ["a", "b"])
        let member = f.mesh.describe().pools[0].members[0]
        #expect(member.state == .standby)
        let secondUntil = try #require(member.cooldownUntil)
        #expect(abs(secondUntil.timeIntervalSince(f.clock.now()) - 20) < 0.01)
        #expect(secondUntil > firstUntil)
        // No second deactivation event: it never came back.
        #expect(f.recorder.events(.modelDeactivated).count == 1)
        #expect(f.recorder.events(.modelActivated).isEmpty)
    }

    @Test func cooldownIsCapped() async throws {
        let primary = MockProvider(fallback: .fail(.serverError, status: 500))
        let f = try MeshFixture(models: [("a", primary), ("b", MockProvider())]) { pool in
            pool.recovery.cooldown = .seconds(10)
            pool.recovery.maxCooldown = .seconds(25)
            pool.retry.maxAttempts = 1
            pool.deactivation.retryLimit = 1
        }
        for _ in 0..<5 {
            _ = try await f.ask()
            f.clock.advance(by: .seconds(30))
        }
        let until = try #require(f.mesh.describe().pools[0].members[0].cooldownUntil)
        #expect(until.timeIntervalSince(f.clock.now()) <= -5 + 0.01)  // 25s cap, 30s advanced
    }

    @Test func windowedErrorRateDeactivates() async throws {
        // Alternating failure/success never reaches 3 consecutive failures, but the rate is 50%.
        var steps: [MockProvider.Step] = []
        for _ in 0..<6 { steps += [.fail(.serverError, status: 500), .reply("ok")] }
        let primary = MockProvider(script: steps)
        let f = try MeshFixture(models: [("a", primary), ("b", MockProvider())]) { pool in
            pool.deactivation.errorRateWindow = 10
            pool.deactivation.errorRateThreshold = 0.5
        }
        for _ in 0..<5 { _ = try await f.ask() }
        #expect(f.recorder.events(.modelDeactivated).isEmpty)  // 10 outcomes, the last a success
        _ = try await f.ask()  // the 11th outcome fails with the window full at 50%
        let events = f.recorder.events(.modelDeactivated)
        #expect(events.count == 1)
        #expect(events.first?.metadata["reason"] == "error_rate")
    }

    @Test func errorCodesOutsideTheListDoNotCount() async throws {
        let primary = MockProvider(fallback: .fail(.serverError, status: 501))
        let f = try MeshFixture(models: [("a", primary), ("b", MockProvider())]) { pool in
            pool.deactivation.errorCodes = [503]
        }
        for _ in 0..<3 { _ = try await f.ask() }
        #expect(f.recorder.events(.modelDeactivated).isEmpty)
    }

    @Test func requestLimitDeactivatesUntilTheWindowResets() async throws {
        let f = try MeshFixture(models: [("a", MockProvider()), ("b", MockProvider())]) { pool in
            pool.deactivation.requestLimit = 2
        }
        _ = try await f.ask()
        _ = try await f.ask()
        let events = f.recorder.events(.modelDeactivated)
        #expect(events.first?.metadata["reason"] == "request_limit")
        #expect(try await f.ask().modelID == "b")
        f.clock.advance(by: .seconds(86_400))
        #expect(try await f.ask().modelID == "a")
        #expect(f.recorder.events(.modelActivated).first?.metadata["trigger"] == "quota_reset")
    }

    @Test func manualDeactivationHoldsUntilManualActivation() async throws {
        let f = try MeshFixture(models: [("a", MockProvider()), ("b", MockProvider())])
        #expect(try f.mesh.deactivate(model: "a") == 1)
        #expect(try f.mesh.deactivate(model: "a") == 0)  // already out: no second event
        f.clock.advance(by: .seconds(100_000))
        #expect(try await f.ask().modelID == "b")
        #expect(f.recorder.events(.modelDeactivated).map { $0.metadata["reason"] } == ["manual"])
        #expect(try f.mesh.activate(model: "a") == 1)
        #expect(try await f.ask().modelID == "a")
        #expect(f.recorder.events(.modelActivated).map { $0.metadata["trigger"] } == ["manual"])
        #expect(throws: ModelMeshError.self) { try f.mesh.activate(model: "nope") }
    }

    @Test func providerOutageAndRecoveryThroughProbes() async throws {
        let primary = MockProvider(fallback: .fail(.serverError, status: 503))
        let f = try MeshFixture(models: [("a", primary), ("b", MockProvider())])
        _ = try await f.ask()
        let outage = f.recorder.events(.providerDeactivated)
        #expect(outage.count == 1)
        #expect(outage.first?.metadata["reason"] == "api_outage")

        await f.mesh.probeProviders()
        let recovered = f.recorder.events(.providerRecovered)
        #expect(recovered.count == 1)
        #expect(recovered.first?.providerID == "p-a")
        #expect(recovered.first?.metadata["trigger"] == "probe_success")
    }

    @Test func healthBandCrossingEmitsProviderHealthChanged() async throws {
        let primary = MockProvider(fallback: .fail(.serverError, status: 503))
        let f = try MeshFixture(models: [("a", primary), ("b", MockProvider())]) { pool in
            pool.deactivation.retryLimit = 100
            pool.deactivation.errorRateWindow = 1000
            pool.retry.maxAttempts = 1
            pool.strategy = "priority-selection"
        }
        _ = try await f.ask()
        #expect(f.recorder.events(.providerHealthChanged).isEmpty)  // 1.0 → 0.8: still healthy
        _ = try await f.ask()
        let changes = f.recorder.events(.providerHealthChanged)
        #expect(changes.count == 1)
        #expect(changes.first?.metadata["state"] == "degraded")
        #expect(changes.first?.metadata["old_score"] == .double(0.8))
        #expect(changes.first?.metadata["new_score"] == .double(0.64))
    }

    @Test func healthProbeFailuresDeactivateTheProvider() async throws {
        let primary = MockProvider()
        primary.setHealthy(false)
        let f = try MeshFixture(models: [("a", primary), ("b", MockProvider())])
        await f.mesh.probeProviders()
        await f.mesh.probeProviders()
        #expect(f.recorder.events(.providerDeactivated).isEmpty)
        await f.mesh.probeProviders()
        let events = f.recorder.events(.providerDeactivated)
        #expect(events.count == 1)
        #expect(events.first?.metadata["reason"] == "health_probe_failed")
        #expect(try await f.ask().modelID == "b")
        primary.setHealthy(true)
        await f.mesh.probeProviders()
        #expect(f.recorder.events(.providerRecovered).count == 1)
        #expect(try await f.ask().modelID == "a")
    }

    @Test func poolMembershipChangesAtRuntime() async throws {
        let f = try MeshFixture(models: [("a", MockProvider()), ("b", MockProvider())]) { pool in
            pool.capability = nil
            pool.models = ["a"]
        }
        try f.mesh.addModels(["b"], toPool: "chat")
        try f.mesh.addModels(["b"], toPool: "chat")  // no change, no event
        try f.mesh.removeModels(["a"], fromPool: "chat")
        let events = f.recorder.events(.poolMembershipChanged)
        #expect(events.count == 2)
        #expect(events[0].metadata["added"] == ["b"])
        #expect(events[0].metadata["removed"] == [])
        #expect(events[1].metadata["removed"] == ["a"])
        #expect(try await f.ask().modelID == "b")
    }

    @Test func announcesInitialMembersOnlyWhenConfigured() throws {
        let quiet = try MeshFixture(models: [("a", MockProvider())])
        #expect(quiet.recorder.events(.modelActivated).isEmpty)
        let loud = try MeshFixture(models: [("a", MockProvider()), ("b", MockProvider())]) {
            $0.recovery.announceOnStart = true
        }
        #expect(loud.recorder.events(.modelActivated).map(\.modelID) == ["a", "b"])
        #expect(loud.recorder.events(.modelActivated).first?.metadata["trigger"] == "startup")
    }
}

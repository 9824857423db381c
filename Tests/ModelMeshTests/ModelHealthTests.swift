import Foundation
import Testing

@testable import ModelMesh

/// The model health state machine, driven directly by outcomes and time.
@Suite struct ModelHealthTests {
    let start = Date(timeIntervalSince1970: 1_768_478_400)
    var policy: DeactivationPolicy {
        var p = DeactivationPolicy()
        p.retryLimit = 2
        return p
    }
    var recovery: RecoveryPolicy {
        var r = RecoveryPolicy()
        r.cooldown = .seconds(60)
        r.maxCooldown = .seconds(200)
        return r
    }

    @Test func consecutiveFailuresDeactivateWithACooldown() {
        var health = ModelHealth()
        #expect(health.recordFailure(status: 503, policy: policy, recovery: recovery, now: start) == nil)
        let t = health.recordFailure(status: 503, policy: policy, recovery: recovery, now: start)
        #expect(t == .deactivated(reason: .errorThreshold, cooldownUntil: start.adding(.seconds(60))))
        #expect(health.state == .standby)
        #expect(health.admission(at: start.adding(.seconds(59))) == .excluded)
        #expect(health.admission(at: start.adding(.seconds(60))) == .probe)
    }

    @Test func statusesOutsideTheErrorCodesDoNotCount() {
        var health = ModelHealth()
        for _ in 0..<5 { _ = health.recordFailure(status: 418, policy: policy, recovery: recovery, now: start) }
        #expect(health.state == .active)
        #expect(health.consecutiveFailures == 0)
    }

    @Test func aFailedProbeDoublesTheCooldownUpToTheMaximum() {
        var health = ModelHealth()
        _ = health.deactivate(.errorThreshold, recovery: recovery, at: start)
        var now = start.adding(.seconds(60))
        health.beginProbe()
        #expect(health.admission(at: now) == .excluded)  // one probe at a time
        _ = health.recordFailure(status: 503, policy: policy, recovery: recovery, now: now)
        #expect(health.cooldownUntil == now.adding(.seconds(120)))
        now = now.adding(.seconds(120))
        health.beginProbe()
        _ = health.recordFailure(status: 503, policy: policy, recovery: recovery, now: now)
        #expect(health.cooldownUntil == now.adding(.seconds(200)))
    }

    @Test func aSuccessfulProbeReactivates() {
        var health = ModelHealth()
        _ = health.deactivate(.errorRate, recovery: recovery, at: start)
        health.beginProbe()
        let transitions = health.recordSuccess(tokens: 1, cost: 0, policy: policy, now: start.adding(.seconds(61)))
        #expect(transitions == [.activated(trigger: "probe_success")])
        #expect(health.state == .active)
        #expect(health.totalDowntime(at: start.adding(.seconds(100))) == 61)
    }

    @Test func aUsageLimitHoldsUntilTheWindowRolls() {
        var limited = policy
        limited.requestLimit = 2
        var health = ModelHealth()
        _ = health.rollWindow(to: "2026-01-15")
        #expect(health.recordSuccess(tokens: 1, cost: 0, policy: limited, now: start).isEmpty)
        #expect(
            health.recordSuccess(tokens: 1, cost: 0, policy: limited, now: start) == [
                .deactivated(reason: .requestLimit, cooldownUntil: nil)
            ])
        #expect(health.rollWindow(to: "2026-01-15") == nil)
        #expect(health.rollWindow(to: "2026-01-16") == .activated(trigger: "quota_reset"))
        #expect(health.requests == 0)
    }

    @Test func manualDeactivationNeverRecoversByItself() {
        var health = ModelHealth()
        _ = health.deactivate(.manual, recovery: recovery, at: start)
        #expect(health.admission(at: start.adding(.seconds(86_400))) == .excluded)
    }
}

import Foundation
import Synchronization

/// Health band of a provider, from its availability score.
public enum ProviderHealthBand: String, Sendable, Codable {
    case healthy, degraded, unavailable

    init(score: Double) {
        self = score >= 0.8 ? .healthy : score >= 0.5 ? .degraded : .unavailable
    }
}

/// Whether a provider's models may be routed to.
enum ProviderAvailability: Sendable {
    case available
    /// Out because every model failed; models due for a recovery probe may still be tried.
    case outage
    case unavailable
}

/// Why a provider was taken out.
public enum ProviderDeactivationReason: String, Sendable, Codable {
    /// The credentials were refused (401/403).
    case authFailure = "auth_failure"
    /// Every model of the provider is failing.
    case outage = "api_outage"
    /// Health probes keep failing.
    case healthProbeFailed = "health_probe_failed"
    case manual
}

/// Provider-level state: credentials valid, availability score (an EWMA over attempt and
/// probe outcomes), and whether the provider is taken out.
final class ProviderHealth: Sendable {
    struct State: Sendable {
        var score: Double = 1
        var band: ProviderHealthBand = .healthy
        var deactivation: ProviderDeactivationReason?
        var deactivatedAt: Date?
        var consecutiveProbeFailures = 0
    }

    enum Change: Sendable {
        case band(old: Double, new: Double, band: ProviderHealthBand)
    }

    let id: String
    private let state = Mutex(State())
    /// Weight of the newest outcome in the score.
    static let smoothing = 0.2

    init(id: String) { self.id = id }

    var snapshot: State { state.withLock { $0 } }

    var isAvailable: Bool { state.withLock { $0.deactivation == nil } }

    /// Read on every routing decision, so it is an atomic mirror of `deactivation`.
    private let availabilityCode = Atomic<UInt8>(0)

    var availability: ProviderAvailability {
        switch availabilityCode.load(ordering: .relaxed) {
        case 0: .available
        case 1: .outage
        default: .unavailable
        }
    }

    private func publishAvailability(_ reason: ProviderDeactivationReason?) {
        let code: UInt8 = reason == nil ? 0 : reason == .outage ? 1 : 2
        availabilityCode.store(code, ordering: .relaxed)
    }

    /// Feeds one outcome into the score; returns a band change, if any.
    func record(success: Bool) -> Change? {
        state.withLock { s in
            let old = s.score
            s.score = old * (1 - Self.smoothing) + (success ? 1 : 0) * Self.smoothing
            if success { s.consecutiveProbeFailures = 0 }
            let band = ProviderHealthBand(score: s.score)
            guard band != s.band else { return nil }
            s.band = band
            return .band(old: old, new: s.score, band: band)
        }
    }

    /// Counts a failed health probe; returns the running count.
    func recordProbeFailure() -> Int {
        state.withLock { s in
            s.consecutiveProbeFailures += 1
            return s.consecutiveProbeFailures
        }
    }

    /// Takes the provider out; false when it already was.
    func deactivate(_ reason: ProviderDeactivationReason, at now: Date) -> Bool {
        state.withLock { s in
            guard s.deactivation == nil else { return false }
            s.deactivation = reason
            s.deactivatedAt = now
            publishAvailability(reason)
            return true
        }
    }

    /// Restores a saved deactivation.
    func restore(_ reason: ProviderDeactivationReason) {
        state.withLock { s in
            s.deactivation = reason
            publishAvailability(reason)
            s.score = min(s.score, 0.4)
            s.band = ProviderHealthBand(score: s.score)
        }
    }

    /// Brings the provider back; false when it was not out.
    func recover() -> Bool {
        state.withLock { s in
            guard s.deactivation != nil else { return false }
            s.deactivation = nil
            publishAvailability(nil)
            s.deactivatedAt = nil
            s.consecutiveProbeFailures = 0
            s.score = max(s.score, 0.8)
            s.band = ProviderHealthBand(score: s.score)
            return true
        }
    }
}

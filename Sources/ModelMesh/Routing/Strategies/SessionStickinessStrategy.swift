import Foundation
import Synchronization

/// Sends every request of a session to the same model while it is available, for
/// ``timeout`` after the session's last request. A new session is placed by rendezvous
/// hashing, so changes in the pool move as few sessions as possible.
public final class SessionStickinessStrategy: RotationStrategy {
    struct Affinity {
        var modelID: String
        var lastUsed: Date
    }

    public let timeout: Duration
    private let affinities = Mutex<[String: Affinity]>([:])

    public init(timeout: Duration = .seconds(1800)) {
        self.timeout = timeout
    }

    public func order(_ candidates: [SelectionCandidate], context: SelectionContext) -> [SelectionCandidate] {
        var chain = candidates.byPosition
        guard let key = context.sessionKey, !chain.isEmpty else { return chain }
        let bound = affinities.withLock { map -> String? in
            guard let a = map[key], context.now.timeIntervalSince(a.lastUsed) < timeout.seconds else { return nil }
            return a.modelID
        }
        let preferred =
            bound.flatMap { id in chain.firstIndex { $0.modelID == id } }
            ?? chain.indices.max { Self.score(key, chain[$0].modelID) < Self.score(key, chain[$1].modelID) }
        if let index = preferred {
            let model = chain.remove(at: index)
            chain.insert(model, at: 0)
        }
        return chain
    }

    public func didSucceed(modelID: String, context: SelectionContext) {
        guard let key = context.sessionKey else { return }
        affinities.withLock { map in
            map[key] = Affinity(modelID: modelID, lastUsed: context.now)
            if map.count > 10_000 {
                map = map.filter { context.now.timeIntervalSince($0.value.lastUsed) < timeout.seconds }
            }
        }
    }

    /// The model a session is bound to, if the binding is still live.
    public func boundModel(session: String, now: Date) -> String? {
        affinities.withLock { map in
            guard let a = map[session], now.timeIntervalSince(a.lastUsed) < timeout.seconds else { return nil }
            return a.modelID
        }
    }

    /// FNV-1a of session and model: stable across runs and platforms, unlike `Hasher`.
    static func score(_ session: String, _ model: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in session.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        hash = (hash ^ 0x1f) &* 0x100_0000_01b3
        for byte in model.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}

/// Moves away from a model before it hits its rate limit: models whose reported headroom
/// (`x-ratelimit-remaining-*` / limit) fell below `1 − threshold`, or that reached the
/// local `max_rpm`, go to the back of the chain. This reorders; it never deactivates.
public struct RateLimitAwareStrategy: RotationStrategy {
    public let policy: RateLimitPolicy

    public init(policy: RateLimitPolicy = .init()) {
        self.policy = policy
    }

    public func order(_ candidates: [SelectionCandidate], context: SelectionContext) -> [SelectionCandidate] {
        var fresh: [SelectionCandidate] = []
        var pressed: [(SelectionCandidate, Double)] = []
        for candidate in candidates.byPosition {
            let headroom = headroom(candidate, now: context.now)
            let atCap = policy.maxRequestsPerMinute > 0 && candidate.requestsLastMinute >= policy.maxRequestsPerMinute
            if atCap || headroom < 1 - policy.threshold {
                pressed.append((candidate, atCap ? 0 : headroom))
            } else {
                fresh.append(candidate)
            }
        }
        return fresh + pressed.sorted { $0.1 > $1.1 }.map(\.0)
    }

    func headroom(_ candidate: SelectionCandidate, now: Date) -> Double {
        guard let limits = candidate.rateLimit else { return 1 }
        // Once the reported window has reset, the old numbers say nothing.
        let resets = [limits.resetRequestsAt, limits.resetTokensAt].compactMap { $0 }
        if !resets.isEmpty, resets.allSatisfy({ $0 <= now }) { return 1 }
        return limits.headroom
    }
}

/// Shares requests in proportion to each model's weight (`model_weights`, default 1),
/// using smooth weighted round-robin: over any window the split follows the weights and
/// heavy models are interleaved, not bunched.
public final class LoadBalancedStrategy: RotationStrategy {
    /// Smooth-WRR running values, by model id (a short list: linear search beats hashing).
    private let current = Mutex<[(id: String, value: Double)]>([])

    public init() {}

    public func order(_ candidates: [SelectionCandidate], context: SelectionContext) -> [SelectionCandidate] {
        var chain = candidates.byPosition
        guard chain.count > 1 else { return chain }
        var total = 0.0
        for c in chain { total += max(0, c.weight) }
        guard total > 0 else { return chain }
        let chosen = current.withLock { values -> Int in
            let saved = context.isDryRun ? values : []
            var best = 0
            var bestValue = -Double.infinity
            var slots: [Int] = []
            slots.reserveCapacity(chain.count)
            for (i, candidate) in chain.enumerated() {
                let slot: Int
                if let found = values.firstIndex(where: { $0.id == candidate.modelID }) {
                    slot = found
                } else {
                    values.append((candidate.modelID, 0))
                    slot = values.count - 1
                }
                slots.append(slot)
                values[slot].value += max(0, candidate.weight)
                if values[slot].value > bestValue {
                    bestValue = values[slot].value
                    best = i
                }
            }
            values[slots[best]].value -= total
            if context.isDryRun { values = saved }
            return best
        }
        let first = chain.remove(at: chosen)
        chain.sort { a, b in a.weight == b.weight ? a.position < b.position : a.weight > b.weight }
        return [first] + chain
    }
}

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

/// Shares requests in proportion to each available model's weight (`model_weights`,
/// default 1) times its rate-limit capacity, using smooth weighted round-robin: over any
/// window the split follows those shares and heavy models are interleaved, not bunched.
///
/// The capacity depends on the pool's ``BalanceMode`` (`balance_mode`): under
/// ``BalanceMode/relative`` (the default) it is the fraction of the model's rate limit left,
/// under ``BalanceMode/absolute`` the number of requests left, both from the upstream's last
/// `x-ratelimit-*` report. A model without a report (or whose reported window has reset)
/// counts with the median capacity of those that have one, and 1 when none has, so without
/// rate-limit data the split follows the weights alone. Only the models that survived the
/// filter stage share: an unavailable model's share goes to the others in proportion.
public final class LoadBalancedStrategy: RotationStrategy {
    public let mode: BalanceMode
    /// Smooth-WRR running values, by model id (a short list: linear search beats hashing).
    private let current = Mutex<[(id: String, value: Double)]>([])

    public init(mode: BalanceMode = .relative) {
        self.mode = mode
    }

    public func order(_ candidates: [SelectionCandidate], context: SelectionContext) -> [SelectionCandidate] {
        var chain = candidates.byPosition
        guard chain.count > 1 else { return chain }
        let weights = shares(of: chain, now: context.now)
        var total = 0.0
        for w in weights { total += w }
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
                values[slot].value += weights[i]
                if values[slot].value > bestValue {
                    bestValue = values[slot].value
                    best = i
                }
            }
            values[slots[best]].value -= total
            if context.isDryRun { values = saved }
            return best
        }
        var rest = Array(zip(chain, weights))
        let first = rest.remove(at: chosen).0
        rest.sort { a, b in a.1 == b.1 ? a.0.position < b.0.position : a.1 > b.1 }
        chain = [first] + rest.map(\.0)
        return chain
    }

    /// The unnormalised share of each candidate, in order: its weight times its capacity under
    /// ``mode``, unknown capacities at the median of the known ones.
    public func shares(of chain: [SelectionCandidate], now: Date) -> [Double] {
        let capacities = chain.map { capacity(of: $0, now: now) }
        let known = capacities.compactMap { $0 }.sorted()
        let fill: Double
        if known.isEmpty {
            fill = 1
        } else if known.count % 2 == 1 {
            fill = known[known.count / 2]
        } else {
            fill = (known[known.count / 2 - 1] + known[known.count / 2]) / 2
        }
        return zip(chain, capacities).map { candidate, capacity in max(0, candidate.weight) * (capacity ?? fill) }
    }

    /// The capacity the mode reads from the model's last rate-limit report; `nil` when unknown.
    func capacity(of candidate: SelectionCandidate, now: Date) -> Double? {
        guard let limits = candidate.rateLimit else { return nil }
        // Once the reported window has reset, the old numbers say nothing.
        let resets = [limits.resetRequestsAt, limits.resetTokensAt].compactMap { $0 }
        if !resets.isEmpty, resets.allSatisfy({ $0 <= now }) { return nil }
        switch mode {
        case .absolute:
            return limits.remainingRequests.map { Double(max(0, $0)) }
        case .relative:
            let reported =
                (limits.limitRequests != nil && limits.remainingRequests != nil)
                || (limits.limitTokens != nil && limits.remainingTokens != nil)
                || limits.remainingRequests == 0 || limits.remainingTokens == 0
            return reported ? limits.headroom : nil
        }
    }
}

import Synchronization

/// Token buckets per client: `burst` requests at once, refilled at `perMinute / 60` a second.
///
/// Buckets are spread over independent shards by key hash, so concurrent clients rarely
/// contend on one lock. Full, idle buckets are dropped when a shard grows large.
final class TokenBucketLimiter: Sendable {
    /// The outcome of one request.
    enum Decision: Equatable {
        case allowed
        /// Refused; a token is available again after this many seconds (rounded up, at least 1).
        case limited(retryAfterSeconds: Int)
    }

    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let capacity: Double
    /// Tokens added per second.
    private let rate: Double
    private final class Shard: Sendable {
        let buckets = Mutex<[String: Bucket]>([:])
    }

    private let shards: [Shard]
    private let maxBucketsPerShard = 4096

    init(perMinute: Int, burst: Int, shardCount: Int = 16) {
        capacity = Double(max(1, burst))
        rate = Double(max(1, perMinute)) / 60
        shards = (0..<max(1, shardCount)).map { _ in Shard() }
    }

    func acquire(key: String, now: ContinuousClock.Instant = .now) -> Decision {
        let shard = shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
        return shard.buckets.withLock { buckets in
            var bucket = buckets[key] ?? Bucket(tokens: capacity, updated: now)
            let elapsed = now - bucket.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(capacity, bucket.tokens + max(0, seconds) * rate)
            bucket.updated = now
            let decision: Decision
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                decision = .allowed
            } else {
                decision = .limited(retryAfterSeconds: max(1, Int(((1 - bucket.tokens) / rate).rounded(.up))))
            }
            if buckets.count >= maxBucketsPerShard, buckets[key] == nil { prune(&buckets, now: now) }
            buckets[key] = bucket
            return decision
        }
    }

    /// Drops buckets that would be full by now: forgetting them changes nothing.
    private func prune(_ buckets: inout [String: Bucket], now: ContinuousClock.Instant) {
        let refill = Duration.seconds(capacity / rate)
        buckets = buckets.filter { now - $0.value.updated < refill }
    }
}

/// The most recent latency samples of one scope, for percentiles, plus an all-time average.
///
/// A fixed-size ring: memory stays bounded however many requests pass, and percentiles
/// describe recent behaviour rather than the whole uptime.
public struct LatencyReservoir: Sendable {
    /// How many recent samples are kept.
    public let capacity: Int
    private var samples: [Double] = []
    private var next = 0
    /// Every sample ever added (not only the kept ones).
    public private(set) var count = 0
    private var sum = 0.0

    /// A reservoir keeping the last `capacity` samples (at least one).
    public init(capacity: Int = 2048) {
        self.capacity = max(1, capacity)
        samples.reserveCapacity(self.capacity)
    }

    /// Adds one sample.
    public mutating func add(_ sample: Double) {
        count += 1
        sum += sample
        if samples.count < capacity {
            samples.append(sample)
        } else {
            samples[next] = sample
        }
        next = (next + 1) % capacity
    }

    /// The average of every sample ever added (0 when empty).
    public var average: Double { count == 0 ? 0 : sum / Double(count) }

    /// The kept samples, oldest first.
    public var recentSamples: [Double] {
        samples.count < capacity ? samples : Array(samples[next...] + samples[..<next])
    }

    /// Nearest-rank percentiles of the kept samples, one per fraction in `fractions`
    /// (e.g. `[0.5, 0.95, 0.99]`); zeros when empty. Sorts once for all of them.
    public func percentiles(_ fractions: [Double]) -> [Double] {
        guard !samples.isEmpty else { return fractions.map { _ in 0 } }
        let sorted = samples.sorted()
        return fractions.map { fraction in
            let rank = Int((min(max(fraction, 0), 1) * Double(sorted.count)).rounded(.up))
            return sorted[min(max(rank, 1), sorted.count) - 1]
        }
    }

    /// The nearest-rank percentile `fraction` (0...1) of the kept samples; 0 when empty.
    public func percentile(_ fraction: Double) -> Double { percentiles([fraction])[0] }
}

import Synchronization

/// Stays on the model that last answered until it fails, then falls back in pool order;
/// returns to a higher-priority model as soon as it recovers (its recovery probe comes
/// first). The default strategy.
public final class StickUntilFailureStrategy: RotationStrategy {
    private let sticky = Mutex<String?>(nil)

    public init() {}

    public func order(_ candidates: [SelectionCandidate], context: SelectionContext) -> [SelectionCandidate] {
        var chain = candidates.byPosition
        guard let current = sticky.withLock({ $0 }), let index = chain.firstIndex(where: { $0.modelID == current })
        else { return chain }
        // A recovering model ranked above the sticky one gets its probe first.
        if chain[..<index].contains(where: \.isProbe) { return chain }
        let model = chain.remove(at: index)
        chain.insert(model, at: 0)
        return chain
    }

    public func didSucceed(modelID: String, context: SelectionContext) {
        sticky.withLock { $0 = modelID }
    }

    public func didActivate(modelID: String) {
        // Back to pool order, so a recovered primary takes traffic again.
        sticky.withLock { $0 = nil }
    }
}

/// Always the highest-priority available model: `model_priority`, then
/// `provider_priority`, then pool order.
public struct PrioritySelectionStrategy: RotationStrategy {
    let modelRank: [String: Int]
    let providerRank: [String: Int]

    public init(pool: PoolConfiguration) {
        modelRank = Dictionary(pool.modelPriority.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        providerRank = Dictionary(pool.providerPriority.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public func order(_ candidates: [SelectionCandidate], context: SelectionContext) -> [SelectionCandidate] {
        candidates.sorted { a, b in
            let ka = (modelRank[a.modelID] ?? Int.max, providerRank[a.providerID] ?? Int.max, a.position)
            let kb = (modelRank[b.modelID] ?? Int.max, providerRank[b.providerID] ?? Int.max, b.position)
            return ka < kb
        }
    }
}

/// Spreads requests evenly: each request starts one position further along the pool.
public final class RoundRobinStrategy: RotationStrategy {
    private let counter = Atomic<Int>(0)

    public init() {}

    public func order(_ candidates: [SelectionCandidate], context: SelectionContext) -> [SelectionCandidate] {
        let chain = candidates.byPosition
        guard chain.count > 1 else { return chain }
        let ticket = context.isDryRun
            ? counter.load(ordering: .relaxed) : counter.wrappingAdd(1, ordering: .relaxed).oldValue
        let start = ticket % chain.count
        return Array(chain[start...] + chain[..<start])
    }
}

/// The cheapest model for this request first, by its price per token (unpriced models last).
public struct CostFirstStrategy: RotationStrategy {
    public init() {}

    public func order(_ candidates: [SelectionCandidate], context: SelectionContext) -> [SelectionCandidate] {
        let input = max(context.estimatedInputTokens, 1)
        let output = max(context.maxOutputTokens, 1)
        return candidates.sorted { a, b in
            let ca = a.pricing?.cost(inputTokens: input, outputTokens: output) ?? .infinity
            let cb = b.pricing?.cost(inputTokens: input, outputTokens: output) ?? .infinity
            return ca == cb ? a.position < b.position : ca < cb
        }
    }
}

/// The model with the lowest observed latency first. Models with no measurement yet are
/// not favoured: they are placed after the measured ones, except that every
/// ``probeEvery``-th request tries one of them first so it gets measured.
public final class LatencyFirstStrategy: RotationStrategy {
    /// How often (in requests) an untested model is tried first.
    public let probeEvery: Int
    private let counter = Atomic<Int>(0)

    public init(probeEvery: Int = 10) {
        self.probeEvery = max(1, probeEvery)
    }

    public func order(_ candidates: [SelectionCandidate], context: SelectionContext) -> [SelectionCandidate] {
        var measured: [SelectionCandidate] = []
        var untested: [SelectionCandidate] = []
        measured.reserveCapacity(candidates.count)
        for candidate in candidates {
            if candidate.latency == nil { untested.append(candidate) } else { measured.append(candidate) }
        }
        measured.sort { a, b in
            let (la, lb) = (a.latency ?? 0, b.latency ?? 0)
            return la == lb ? a.position < b.position : la < lb
        }
        untested.sort { $0.position < $1.position }
        let n = context.isDryRun
            ? counter.load(ordering: .relaxed) : counter.wrappingAdd(1, ordering: .relaxed).oldValue
        if measured.isEmpty || untested.isEmpty { return measured + untested }
        if n % probeEvery == probeEvery - 1 {
            let probe = untested.removeFirst()
            return [probe] + measured + untested
        }
        return measured + untested
    }
}

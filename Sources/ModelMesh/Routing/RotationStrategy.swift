import Foundation

/// One model that survived the filter stage, with what strategies rank by.
public struct SelectionCandidate: Sendable, Hashable {
    public static func == (a: Self, b: Self) -> Bool {
        a.modelID == b.modelID && a.providerID == b.providerID && a.position == b.position && a.pricing == b.pricing
            && a.weight == b.weight && a.latency == b.latency && a.rateLimit == b.rateLimit
            && a.requestsLastMinute == b.requestsLastMinute && a.isProbe == b.isProbe
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(modelID)
        hasher.combine(position)
    }

    public var modelID: String
    public var providerID: String
    /// Position in the pool's priority order (0 = primary).
    public var position: Int
    public var pricing: ModelPricing?
    /// Weight for load-balanced selection.
    public var weight: Double
    /// Exponentially weighted moving average of observed latency, seconds (nil: untested).
    public var latency: Double?
    /// The upstream's last reported rate-limit state.
    public var rateLimit: RateLimitStatus?
    /// Requests started on the model in the last minute.
    public var requestsLastMinute: Int
    /// The model is in standby and this request would be its half-open recovery probe.
    public var isProbe: Bool
    /// The resolved model, set by the filter stage.
    var handle: ModelHandle?

    public init(
        modelID: String, providerID: String, position: Int, pricing: ModelPricing? = nil, weight: Double = 1,
        latency: Double? = nil, rateLimit: RateLimitStatus? = nil, requestsLastMinute: Int = 0, isProbe: Bool = false
    ) {
        self.modelID = modelID
        self.providerID = providerID
        self.position = position
        self.pricing = pricing
        self.weight = weight
        self.latency = latency
        self.rateLimit = rateLimit
        self.requestsLastMinute = requestsLastMinute
        self.isProbe = isProbe
    }
}

/// What a strategy may know about the request being routed.
public struct SelectionContext: Sendable {
    public var poolID: String
    /// Affinity key for session-stickiness (from the routing options, `user`, or
    /// `metadata.session_id`).
    public var sessionKey: String?
    public var now: Date
    public var estimatedInputTokens: Int
    public var maxOutputTokens: Int
    /// The order is for `explain` only: strategies must not advance their state.
    public var isDryRun: Bool = false

    public init(poolID: String, sessionKey: String? = nil, now: Date, estimatedInputTokens: Int = 0,
        maxOutputTokens: Int = 0)
    {
        self.poolID = poolID
        self.sessionKey = sessionKey
        self.now = now
        self.estimatedInputTokens = estimatedInputTokens
        self.maxOutputTokens = maxOutputTokens
    }
}

/// Orders a pool's surviving candidates into the fallback chain of one request.
///
/// The first element is tried first; on failure the router moves down the chain. Custom
/// strategies conform to this protocol and register with ``StrategyRegistry``.
public protocol RotationStrategy: Sendable {
    /// The fallback chain for one request. Must return a permutation of `candidates`.
    func order(_ candidates: [SelectionCandidate], context: SelectionContext) -> [SelectionCandidate]
    /// A request succeeded on `modelID`.
    func didSucceed(modelID: String, context: SelectionContext)
    /// A model returned to ACTIVE.
    func didActivate(modelID: String)
}

extension RotationStrategy {
    public func didSucceed(modelID: String, context: SelectionContext) {}
    public func didActivate(modelID: String) {}
}

/// Builds rotation strategies by connector ID.
public struct StrategyRegistry: Sendable {
    public typealias Factory = @Sendable (PoolConfiguration) -> any RotationStrategy

    private var factories: [String: Factory]

    /// The eight built-in strategies.
    public static let builtIn = StrategyRegistry(factories: [
        "modelmesh.stick-until-failure.v1": { _ in StickUntilFailureStrategy() },
        "modelmesh.priority-selection.v1": { PrioritySelectionStrategy(pool: $0) },
        "modelmesh.round-robin.v1": { _ in RoundRobinStrategy() },
        "modelmesh.cost-first.v1": { _ in CostFirstStrategy() },
        "modelmesh.latency-first.v1": { _ in LatencyFirstStrategy() },
        "modelmesh.session-stickiness.v1": { SessionStickinessStrategy(timeout: $0.sessionTimeout) },
        "modelmesh.rate-limit-aware.v1": { RateLimitAwareStrategy(policy: $0.rateLimit) },
        "modelmesh.load-balanced.v1": { LoadBalancedStrategy(mode: $0.balanceMode) },
    ])

    /// Adds or replaces a strategy under `id`.
    public mutating func register(_ id: String, factory: @escaping Factory) {
        factories[id] = factory
    }

    /// Whether `name` (ID or short name) names a known strategy.
    public func contains(_ name: String) -> Bool { resolve(name) != nil }

    /// The strategy for a pool, or `nil` when its strategy ID is unknown.
    public func make(for pool: PoolConfiguration) -> (any RotationStrategy)? {
        resolve(pool.strategy).map { $0(pool) }
    }

    private func resolve(_ name: String) -> Factory? {
        if let f = factories[name] { return f }
        if let id = ConnectorID.strategy(name), let f = factories[id] { return f }
        return factories[ConnectorID.normalize(name)]
    }
}

extension Array where Element == SelectionCandidate {
    /// Sorted by pool position.
    var byPosition: [SelectionCandidate] { sorted { $0.position < $1.position } }
}

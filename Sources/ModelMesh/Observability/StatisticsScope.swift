/// What a statistics record is about: a model, a provider or a pool.
public enum StatisticsScope: Hashable, Sendable {
    case model(String)
    case provider(String)
    case pool(String)

    /// The key used in statistics snapshots: `model:<id>`, `provider:<id>` or `pool:<id>`.
    public var key: String {
        switch self {
        case .model(let id): "model:\(id)"
        case .provider(let id): "provider:\(id)"
        case .pool(let id): "pool:\(id)"
        }
    }

    /// Which kind of scope this is.
    public var kind: StatisticsScopeKind {
        switch self {
        case .model: .model
        case .provider: .provider
        case .pool: .pool
        }
    }
}

/// The kinds of statistics scope, as `observability.statistics.scopes` names them.
public enum StatisticsScopeKind: String, Sendable, Hashable, Codable, CaseIterable {
    case model, provider, pool

    /// The kind of a snapshot key (`model:<id>`, `provider:<id>`, `pool:<id>`), if it has one.
    public init?(key: String) {
        guard let colon = key.firstIndex(of: ":") else { return nil }
        self.init(rawValue: String(key[..<colon]))
    }
}

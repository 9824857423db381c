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
}

// Settings and in-memory secret values may hold resolved secrets; these descriptions
// show names only, so printing or logging a configuration never reveals them.

extension ProviderConfiguration: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String {
        let key = apiKey == nil ? "none" : "<redacted>"
        return "ProviderConfiguration(id: \(id), connector: \(connector), enabled: \(enabled), apiKey: \(key), "
            + "headers: \(headers.keys.sorted()), settings: \(settings.keys.sorted()))"
    }

    public var debugDescription: String { description }
}

extension ObservabilityConnectorConfiguration: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String {
        let filter = events.map { $0.map(\.rawValue).sorted().description } ?? "all"
        return "ObservabilityConnectorConfiguration(connector: \(connector), events: \(filter), "
            + "settings: \(settings.keys.sorted()))"
    }

    public var debugDescription: String { description }
}

extension SecretsConfiguration: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String {
        "SecretsConfiguration(store: \(store), path: \(path ?? "nil"), values: \(values.keys.sorted()), "
            + "failOnMissing: \(failOnMissing))"
    }

    public var debugDescription: String { description }
}

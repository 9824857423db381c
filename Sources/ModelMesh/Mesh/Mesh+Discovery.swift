import Foundation

/// What one discovery sync found for one provider.
public struct DiscoveryChange: Sendable, Hashable {
    public var providerID: String
    /// Model names the provider lists that were not known before.
    public var new: [String]
    /// Known model names the provider no longer lists.
    public var deprecated: [String]

    public init(providerID: String, new: [String], deprecated: [String]) {
        self.providerID = providerID
        self.new = new
        self.deprecated = deprecated
    }
}

extension Mesh {
    /// Asks every provider for its model list and compares it with what was known: the
    /// configured models at the first sync, the previous listing afterwards. Emits
    /// `discovery_models_updated` for each provider whose list changed. Providers that
    /// cannot list models, or list none, are skipped.
    @discardableResult
    public func syncDiscovery() async -> [DiscoveryChange] {
        var changes: [DiscoveryChange] = []
        for (id, connector) in topology.connectors.sorted(by: { $0.key < $1.key }) {
            guard let listed = try? await connector.listModels(), !listed.isEmpty else { continue }
            let names = Set(listed.map(\.id))
            let configured = Set(topology.models.values.filter { $0.provider == id }.map(\.name))
            let known = discoveryState.withLock { $0[id] } ?? configured
            let new = names.subtracting(known).sorted()
            let deprecated = known.subtracting(names).sorted()
            discoveryState.withLock { $0[id] = names }
            guard !new.isEmpty || !deprecated.isEmpty else { continue }
            changes.append(DiscoveryChange(providerID: id, new: new, deprecated: deprecated))
            events.emit(
                RoutingEvent(
                    eventType: .discoveryModelsUpdated, timestamp: clock.now(), providerID: id,
                    metadata: ["new": .array(new.map(JSONValue.string)),
                        "deprecated": .array(deprecated.map(JSONValue.string))]))
        }
        return changes
    }
}

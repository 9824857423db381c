import Foundation

/// What one discovery sync found for one provider.
public struct DiscoveryChange: Sendable, Hashable {
    public var providerID: String
    /// Model names the provider lists that were not known before.
    public var new: [String]
    /// Known model names the provider no longer lists.
    public var deprecated: [String]
    /// Ids of the models registered for new names (`auto_register`).
    public var registered: [String]
    /// New names left out: no capability rule or catalogue entry says what they serve.
    public var unregistered: [String]
    /// Ids of the models taken out (`deactivate`) or removed (`remove`) for deprecated names.
    public var retired: [String]

    public init(
        providerID: String, new: [String], deprecated: [String], registered: [String] = [],
        unregistered: [String] = [], retired: [String] = []
    ) {
        self.providerID = providerID
        self.new = new
        self.deprecated = deprecated
        self.registered = registered
        self.unregistered = unregistered
        self.retired = retired
    }
}

/// Models discovery added to, or removed from, the configured ones.
struct DiscoveredModels: Sendable {
    /// Registered from providers' listings, by model id.
    var added: [String: ModelConfiguration] = [:]
    /// Configured or registered models removed because their provider stopped listing them,
    /// by model id.
    var removed: [String: ModelConfiguration] = [:]
}

extension Mesh {
    /// Asks each synced provider (`discovery.sync.providers`, default all) for its model
    /// list and compares it with what was known: the configured models at the first sync,
    /// the previous listing afterwards. Emits `discovery_models_updated` for each provider
    /// whose list changed (metadata `new`, `deprecated`, and what was done: `registered`,
    /// `unregistered`, `retired`). Providers that cannot list models, or list none, are
    /// skipped.
    ///
    /// With `discovery.sync.auto_register`, a new name becomes the model `<provider>.<name>`
    /// with the capabilities of the first matching `discovery.sync.capabilities` rule, else
    /// of the vendor catalogue's entry, and joins the pools whose capability it serves. With
    /// `on_deprecated_model: deactivate` a model no longer listed is taken out of routing
    /// (reason `deprecated`) until it is listed again; with `remove` it leaves every pool.
    /// Membership changes go through the same atomic swap as a reload and emit
    /// `pool_membership_changed` (trigger `discovery`).
    @discardableResult
    public func syncDiscovery() async -> [DiscoveryChange] {
        let settings = configuration.discovery
        let current = topology
        let synced = settings.syncProviders.map(Set.init)
        var changes: [DiscoveryChange] = []
        for (id, connector) in current.connectors.sorted(by: { $0.key < $1.key }) where synced?.contains(id) ?? true {
            guard let listed = await listing(id, connector), !listed.isEmpty else { continue }
            let names = Set(listed.map(\.id))
            let configured = Set(topology.models.values.filter { $0.provider == id }.map(\.name))
            let known = discoveryState.withLock { $0[id] } ?? configured
            let new = names.subtracting(known).sorted()
            let deprecated = known.subtracting(names).sorted()
            discoveryState.withLock { $0[id] = names }
            guard !new.isEmpty || !deprecated.isEmpty else { continue }
            var change = DiscoveryChange(providerID: id, new: new, deprecated: deprecated)
            act(on: &change, settings: settings)
            changes.append(change)
            var metadata: [String: JSONValue] = [
                "new": .array(new.map(JSONValue.string)), "deprecated": .array(deprecated.map(JSONValue.string)),
            ]
            if settings.autoRegister {
                metadata["registered"] = .array(change.registered.map(JSONValue.string))
                metadata["unregistered"] = .array(change.unregistered.map(JSONValue.string))
            }
            if settings.onDeprecatedModel != .keep {
                metadata["action"] = .string(settings.onDeprecatedModel.rawValue)
                metadata["retired"] = .array(change.retired.map(JSONValue.string))
            }
            events.emit(
                RoutingEvent(
                    eventType: .discoveryModelsUpdated, timestamp: clock.now(), providerID: id, metadata: metadata))
        }
        return changes
    }

    /// A provider's model list; one failed listing is tried once more (a connection that went
    /// stale between syncs), a second failure skips the provider for this round.
    private func listing(_ id: String, _ connector: any ProviderConnector) async -> [ProviderModelInfo]? {
        var lastError: (any Error)?
        for _ in 0..<2 {
            do { return try await connector.listModels() } catch { lastError = error }
        }
        logger.warning(
            "Discovery could not list the provider's models; skipped until the next sync",
            metadata: ["provider": "\(id)", "error": "\(lastError.map { "\($0)" } ?? "")"])
        return nil
    }

    /// Carries out `auto_register` and `on_deprecated_model` for one provider's change.
    private func act(on change: inout DiscoveryChange, settings: DiscoveryConfiguration) {
        let provider = change.providerID
        guard settings.autoRegister || settings.onDeprecatedModel != .keep else { return }
        reloading.withLock { _ in
            let topology = topology
            let connector = topology.providerConfigs[provider]?.connector ?? provider
            let byName = Dictionary(
                topology.models.values.filter { $0.provider == provider }.map { ($0.name, $0.id) },
                uniquingKeysWith: { a, _ in a })
            var discovered = discoveredModels.withLock { $0 }
            let before = discovered
            var reactivate: [String] = []
            for name in change.new {
                if let id = byName[name] {
                    // Listed again: a model this provider's listing had taken out comes back.
                    reactivate.append(id)
                    continue
                }
                if let back = discovered.removed.values.first(where: { $0.provider == provider && $0.name == name }) {
                    // Listed again after `remove`: back into its pools (a registered one re-registered).
                    discovered.removed[back.id] = nil
                    if !declared.withLock({ $0.models.contains { $0.id == back.id } }) { discovered.added[back.id] = back }
                    change.registered.append(back.id)
                    continue
                }
                guard settings.autoRegister else { continue }
                guard let model = Self.discoveredModel(name, provider: provider, connector: connector, settings: settings)
                else {
                    change.unregistered.append(name)
                    continue
                }
                discovered.added[model.id] = model
                change.registered.append(model.id)
            }
            for name in change.deprecated {
                guard let id = byName[name] else { continue }
                switch settings.onDeprecatedModel {
                case .keep: break
                case .deactivate:
                    if health.deactivate(id, in: topology.allPools.filter { $0.contains(id) }, reason: .deprecated) > 0 {
                        change.retired.append(id)
                    }
                case .remove:
                    discovered.added[id] = nil
                    discovered.removed[id] = topology.models[id]
                    change.retired.append(id)
                }
            }
            for id in reactivate where settings.onDeprecatedModel == .deactivate {
                _ = health.activate(
                    id, in: topology.allPools.filter { $0.contains(id) }, trigger: "discovery", onlyIf: .deprecated)
            }
            guard discovered.added != before.added || discovered.removed != before.removed else { return }
            discoveredModels.withLock { $0 = discovered }
            do {
                _ = try apply(withDiscoveries(declared.withLock { $0 }), trigger: "discovery", source: nil)
            } catch {
                // The models found cannot be compiled in (a capability no pool takes is not an
                // error, so this is a connector that cannot be built): keep the mesh as it is.
                discoveredModels.withLock { $0 = before }
                change.registered = []
                change.retired = change.retired.filter { _ in settings.onDeprecatedModel == .deactivate }
                logger.error(
                    "Discovered models could not be applied", metadata: ["provider": "\(provider)", "error": "\(error)"])
            }
        }
    }

    /// The model for a newly listed name, or nil when nothing says what it serves.
    static func discoveredModel(
        _ name: String, provider: String, connector: String, settings: DiscoveryConfiguration
    ) -> ModelConfiguration? {
        let catalogued = VendorCatalogue.vendor(forConnector: connector)?.models.first {
            $0.wireName == name || $0.name == name
        }
        let rule = settings.capabilityRules.first { ($0.provider ?? provider) == provider && $0.matches(name) }
        guard let capabilities = rule?.capabilities ?? catalogued?.capabilities, !capabilities.isEmpty else {
            return nil
        }
        var model = ModelConfiguration(
            id: "\(provider).\(name)", name: name, provider: provider, capabilities: capabilities)
        if let catalogued {
            model.features = catalogued.features
            model.contextWindow = catalogued.contextWindow
            model.maxOutputTokens = catalogued.maxOutputTokens
            model.pricing = catalogued.pricing
        }
        return model
    }

    /// `configuration` with the models discovery registered, without those it removed.
    func withDiscoveries(_ configuration: MeshConfiguration) -> MeshConfiguration {
        let discovered = discoveredModels.withLock { $0 }
        guard !discovered.added.isEmpty || !discovered.removed.isEmpty else { return configuration }
        var result = configuration
        let declaredIDs = Set(result.models.map(\.id))
        result.models += discovered.added.values.filter { !declaredIDs.contains($0.id) }.sorted { $0.id < $1.id }
        if !discovered.removed.isEmpty {
            result.models.removeAll { discovered.removed[$0.id] != nil }
            for i in result.pools.indices {
                result.pools[i].models = result.pools[i].models?.filter { discovered.removed[$0] == nil }
            }
        }
        return result
    }
}

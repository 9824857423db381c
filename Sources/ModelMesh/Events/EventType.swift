/// The kind of a lifecycle change published by the ``EventEmitter``.
///
/// Raw values are the wire names used in event JSON, log files, webhooks and the
/// `/v1/mesh/events` stream.
public enum EventType: String, Sendable, Codable, CaseIterable {
    /// A model returned to ACTIVE (probe success, manual activation, provider recovered).
    case modelActivated = "model_activated"
    /// A model left ACTIVE (threshold crossed, auth failure, budget, quota, manual).
    case modelDeactivated = "model_deactivated"
    /// A request moved from one model to a different model.
    case modelRotated = "model_rotated"
    /// A provider's health score crossed a band (healthy, degraded, unavailable).
    case providerHealthChanged = "provider_health_changed"
    /// A provider was taken out: invalid credentials, outage, failing probes.
    case providerDeactivated = "provider_deactivated"
    /// A deactivated provider is back.
    case providerRecovered = "provider_recovered"
    /// Models were added to or removed from a pool at runtime.
    case poolMembershipChanged = "pool_membership_changed"
    /// Discovery found new or deprecated models.
    case discoveryModelsUpdated = "discovery_models_updated"

    /// Resolves an event filter entry: a wire name (`model_rotated`) or one of the
    /// category names `rotation`, `deactivation`, `recovery`, `health`.
    ///
    /// - Returns: the event types the entry selects, or `nil` when the name is unknown.
    public static func matching(filterName name: String) -> [EventType]? {
        if let type = EventType(rawValue: name) { return [type] }
        switch name {
        case "rotation": return [.modelRotated]
        case "deactivation": return [.modelDeactivated, .providerDeactivated]
        case "recovery": return [.modelActivated, .providerRecovered]
        case "health": return [.providerHealthChanged]
        case "membership": return [.poolMembershipChanged]
        case "discovery": return [.discoveryModelsUpdated]
        default: return nil
        }
    }
}

/// Connector IDs: normalization and the IDs built into ModelMesh.
///
/// IDs have a long form with a type prefix (`provider.openai.llm.v1`,
/// `rotation.modelmesh.round-robin.v1`) and a short form without it (`openai.llm.v1`).
/// Strategies are also accepted by bare name (`round-robin`).
public enum ConnectorID {
    /// Type prefixes stripped by ``normalize(_:)``.
    public static let typePrefixes = ["provider.", "rotation.", "secret-store.", "storage.", "observability.", "discovery."]

    /// The short form of `id`: a leading type prefix removed.
    public static func normalize(_ id: String) -> String {
        for prefix in typePrefixes where id.hasPrefix(prefix) {
            return String(id.dropFirst(prefix.count))
        }
        return id
    }

    /// The built-in rotation strategies by short name.
    public static let strategyNames = [
        "stick-until-failure", "priority-selection", "round-robin", "cost-first", "latency-first",
        "session-stickiness", "rate-limit-aware", "load-balanced",
    ]

    /// The full ID of a strategy given by ID or bare name, or `nil` when it is not built in.
    public static func strategy(_ name: String) -> String? {
        let id = normalize(name)
        if strategyNames.contains(id) { return "modelmesh.\(id).v1" }
        if id.hasPrefix("modelmesh."), id.hasSuffix(".v1") {
            let bare = String(id.dropFirst("modelmesh.".count).dropLast(".v1".count))
            if strategyNames.contains(bare) { return id }
        }
        return nil
    }

    /// Provider connector IDs of the built-in providers, with aliases.
    public static let providerConnectors: Set<String> = Set(VendorCatalogue.entries.flatMap(\.connectorIDs))
        .union(["openai-compatible.llm.v1", "modelmesh.simulated.v1"])

    /// Observability connector IDs built in.
    public static let observabilityConnectors: Set<String> = [
        "modelmesh.console.v1", "modelmesh.local-file.v1", "modelmesh.webhook.v1", "modelmesh.prometheus.v1",
        "modelmesh.callback.v1", "modelmesh.null.v1",
    ]

    /// Secret store IDs built in.
    public static let secretStores: Set<String> = [
        "modelmesh.env.v1", "modelmesh.dotenv.v1", "modelmesh.json-secrets.v1", "modelmesh.memory.v1",
    ]

    /// Storage connector IDs built in.
    public static let storageConnectors: Set<String> = [
        "modelmesh.memory.v1", "modelmesh.local-file.v1", "modelmesh.postgres.v1",
    ]
}

import ModelMesh

/// The connectors built into ModelMesh, by connector ID: the entry point a provider registry
/// uses to turn configured providers into ``ProviderConnector``s.
///
/// ```swift
/// let transport = HTTPTransport()
/// for provider in configuration.providers where provider.enabled {
///     guard let connector = try BuiltInProviders.make(provider, transport: transport) else {
///         // not built in: look for a custom connector
///     }
/// }
/// ```
public enum BuiltInProviders {
    /// The connector IDs (short form) ``make(_:transport:)`` can build.
    public static var connectorIDs: Set<String> {
        Set(OpenAICompatibleVendor.all.map(\.connectorID))
    }

    /// Builds the connector of `configuration`, or returns `nil` when its connector ID is not
    /// built in. All connectors share `transport`'s connection pool.
    ///
    /// - Throws: ``ProviderSetupError`` when the configuration cannot work (no or a bad base URL).
    public static func make(_ configuration: ProviderConfiguration, transport: HTTPTransport) throws
        -> (any ProviderConnector)?
    {
        if let vendor = OpenAICompatibleVendor.vendor(forConnector: configuration.connector) {
            return try OpenAICompatibleProvider(configuration: configuration, transport: transport, vendor: vendor)
        }
        return nil
    }

    /// The list price of a vendor's default model, in USD per million tokens, or `nil` when
    /// the table does not know it.
    public static func defaultPricing(connector: String, wireName: String) -> ModelPricing? {
        OpenAICompatibleVendor.vendor(forConnector: connector)?.model(wireName)?.pricing
    }

    /// The default model entry of a vendor (context window, output limit, features), if known.
    public static func defaultModel(connector: String, wireName: String) -> OpenAICompatibleModel? {
        OpenAICompatibleVendor.vendor(forConnector: connector)?.model(wireName)
    }
}

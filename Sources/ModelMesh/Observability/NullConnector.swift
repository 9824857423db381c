/// An observability connector that discards everything (`modelmesh.null.v1`).
///
/// Useful to switch observability off explicitly, and as a placeholder in tests.
public final class NullConnector: ObservabilityConnector {
    /// The connector ID under which it is registered.
    public static let id = "modelmesh.null.v1"

    public init() {}

    public func emit(_ event: RoutingEvent) throws {}
}

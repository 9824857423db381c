/// A model resolved once at build time: its configuration, wire target, connector and
/// provider state, so the routing path follows references instead of looking names up.
final class ModelHandle: Sendable {
    let model: ModelConfiguration
    let target: ModelTarget
    let connector: (any ProviderConnector)?
    let provider: ProviderHealth?
    /// The provider's per-attempt timeout.
    let timeout: Duration?

    init(model: ModelConfiguration, connector: (any ProviderConnector)?, provider: ProviderHealth?, timeout: Duration?) {
        self.model = model
        target = ModelTarget(modelID: model.id, wireName: model.name, providerID: model.provider)
        self.connector = connector
        self.provider = provider
        self.timeout = timeout
    }

    var availability: ProviderAvailability { provider?.availability ?? .unavailable }
}

/// Requests started in the last minute, in O(1) space: the current minute's count plus
/// the previous minute's, weighted by how much of it still lies inside the window.
struct RequestRate: Sendable {
    private var minute: Int64 = 0
    private var current = 0
    private var previous = 0

    mutating func record(at seconds: Double) {
        let m = Int64(seconds / 60)
        if m != minute {
            previous = m == minute + 1 ? current : 0
            current = 0
            minute = m
        }
        current += 1
    }

    func count(at seconds: Double) -> Int {
        let m = Int64(seconds / 60)
        let elapsed = seconds / 60 - Double(m)
        if m == minute { return current + Int((Double(previous) * (1 - elapsed)).rounded(.up)) }
        if m == minute + 1 { return Int((Double(current) * (1 - elapsed)).rounded(.up)) }
        return 0
    }
}

import Foundation

// Placeholder until the statistics collector lands; replaced on merge.
public final class StatisticsCollector: Sendable {
    public init(clock: any MeshClock = SystemClock()) {}
    func recordRotation(pool: String) {}
    func modelLeftActive(_ model: String, at: Date) {}
    func modelReturned(_ model: String, at: Date) {}
}
extension StatisticsCollector {
    func recordRequest(model: String?, provider: String?, pool: String?, success: Bool, latencyMs: Double,
        tokensIn: Int, tokensOut: Int, cost: Double) {}
}
extension StatisticsCollector {
    public func snapshot() -> [String: AggregateStats] { [:] }
}

import Foundation
import HTTPTypes
import Hummingbird
import ModelMesh
import NIOCore

extension ProxyHandlers {
    struct Health: Codable {
        var status: String
    }

    struct Readiness: Codable {
        var ready: Bool
        var pools: Int
        var activePools: Int
        var reason: String?
        /// `degraded` while the shared store is unreachable: routing goes on from the last
        /// known state.
        var status: String?

        enum CodingKeys: String, CodingKey {
            case ready, pools
            case activePools = "active_pools"
            case reason, status
        }
    }

    /// `GET /health`: liveness; open without a token.
    func health(_ request: Request, context: ProxyRequestContext) async throws -> Response {
        try Self.json(Health(status: "ok"))
    }

    /// `GET /ready`: 200 when at least one pool has an active member, else 503. While the
    /// shared store is unreachable: `status: degraded`, with 200 or 503 as
    /// `storage.unavailable_ready_status` says.
    func ready(_ request: Request, context: ProxyRequestContext) async throws -> Response {
        let pools = mesh.describe().pools
        let active = pools.filter { $0.members.contains { $0.state == .active } }.count
        if eventStreams.isClosed {
            return try Self.json(
                Readiness(ready: false, pools: pools.count, activePools: active, reason: "shutting down"),
                status: .serviceUnavailable)
        }
        guard active > 0 else {
            return try Self.json(
                Readiness(ready: false, pools: pools.count, activePools: 0, reason: "no pool has an active model"),
                status: .serviceUnavailable)
        }
        if let storage = mesh.sharedStorage, !storage.available {
            let status = mesh.configuration.storage.unavailableReadyStatus
            return try Self.json(
                Readiness(
                    ready: status == 200, pools: pools.count, activePools: active,
                    reason: "the shared store is unreachable: routing on the last known state", status: "degraded"),
                status: status == 200 ? .ok : .serviceUnavailable)
        }
        return try Self.json(Readiness(ready: true, pools: pools.count, activePools: active))
    }

    /// `GET /metrics`: Prometheus text exposition.
    func metricsText(_ request: Request, context: ProxyRequestContext) async throws -> Response {
        metrics.recordBudgetReservations(mesh.budget)
        if let storage = mesh.sharedStorage { metrics.recordStorage(storage) }
        var bytes: [UInt8] = []
        metrics.registry.emit(into: &bytes)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

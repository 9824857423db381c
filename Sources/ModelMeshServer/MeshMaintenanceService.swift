import Logging
import ModelMesh
import ServiceLifecycle

/// The mesh's background work as a `Service`: ``Mesh/run()`` (statistics flushing, provider
/// health probes, background recovery probes, discovery sync, state saving) until graceful
/// shutdown.
///
/// ``ProxyServer/makeServiceGroup(services:gracefulShutdownSignals:)`` runs it beside the
/// proxy.
public struct MeshMaintenanceService: Service, CustomStringConvertible {
    public let mesh: Mesh
    let logger: Logger

    public init(mesh: Mesh, logger: Logger = Logger(label: "modelmesh.maintenance")) {
        self.mesh = mesh
        self.logger = logger
    }

    public var description: String { "MeshMaintenance" }

    public func run() async throws {
        let mesh = mesh
        await cancelWhenGracefulShutdown { await mesh.run() }
    }
}

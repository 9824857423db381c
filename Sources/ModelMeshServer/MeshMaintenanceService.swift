import Logging
import ModelMesh
import ServiceLifecycle

/// The mesh's periodic work as a `Service`: statistics snapshots to the observability
/// connectors every `observability.statistics_flush_interval`, and provider health probes
/// every `discovery.health_interval` when `discovery.health_enabled` is set.
///
/// ``ProxyServer/makeServiceGroup(services:gracefulShutdownSignals:)`` runs it beside the
/// proxy; it stops on graceful shutdown.
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
        let observability = mesh.configuration.observability
        let discovery = mesh.configuration.discovery
        await withDiscardingTaskGroup { group in
            group.addTask {
                await Self.every(observability.statisticsFlushInterval) {
                    mesh.events.flush(mesh.statistics.snapshot())
                }
            }
            if discovery.healthEnabled {
                group.addTask {
                    await Self.every(discovery.healthInterval) { await mesh.probeProviders() }
                }
            }
            await cancelWhenGracefulShutdown {
                // Parks until graceful shutdown cancels it; then the loops are cancelled too.
                while !Task.isCancelled {
                    do { try await Task.sleep(for: .seconds(3600)) } catch { break }
                }
            }
            group.cancelAll()
        }
    }

    /// Runs `work` every `interval` until cancelled.
    static func every(_ interval: Duration, _ work: @Sendable () async -> Void) async {
        guard interval > .zero else { return }
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            await work()
        }
    }
}

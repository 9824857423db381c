import Foundation
import Logging
import ModelMesh
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Reads the configuration again and applies it to a running mesh: what `SIGHUP`,
/// `POST /v1/mesh/reload` and `serve --watch` do.
///
/// An invalid file changes nothing: the mesh keeps serving on what it has, and the error
/// lists every problem as `modelmesh validate` prints them.
///
/// ```swift
/// let reloader = ConfigurationReloader(mesh: mesh, source: path) {
///     try ConfigurationLoader.load(path: path)
/// }
/// var options = ProxyServer.Options()
/// options.reloader = reloader
/// ```
public struct ConfigurationReloader: Sendable {
    public let mesh: Mesh
    /// Shown with the configuration version (a file path).
    public let source: String?
    let load: @Sendable () throws -> MeshConfiguration
    let logger: Logger

    /// - Parameters:
    ///   - mesh: the running mesh.
    ///   - source: where the configuration comes from, shown in `/v1/mesh/state`.
    ///   - logger: where reloads are logged.
    ///   - load: reads and decodes the configuration (throws ``ConfigurationError`` when it
    ///     is invalid).
    public init(
        mesh: Mesh, source: String?, logger: Logger = Logger(label: "modelmesh.reload"),
        load: @escaping @Sendable () throws -> MeshConfiguration
    ) {
        self.mesh = mesh
        self.source = source
        self.load = load
        self.logger = logger
        if let source { mesh.setConfigurationSource(source) }
    }

    /// Loads and applies the configuration; logs the outcome.
    ///
    /// - Parameter trigger: what asked for it (`sighup`, `api`, `watch`), for the log.
    /// - Throws: ``ConfigurationError`` for an invalid file, ``ModelMeshError`` for one the
    ///   running mesh cannot take; either way nothing changed.
    @discardableResult
    public func reload(trigger: String) throws -> ReloadReport {
        do {
            let report = try mesh.reload(try load(), source: source)
            logger.notice(
                "Configuration reloaded",
                metadata: [
                    "trigger": "\(trigger)", "version": "\(report.version.version)",
                    "models_added": "\(report.modelsAdded)", "models_removed": "\(report.modelsRemoved)",
                    "pools_changed": "\(report.membership.map(\.pool))",
                    "providers_rebuilt": "\(report.providersRebuilt)",
                ])
            return report
        } catch {
            logger.error(
                "Configuration reload refused; still serving the previous configuration",
                metadata: ["trigger": "\(trigger)", "error": "\(error)"])
            throw error
        }
    }
}

/// Reloads the configuration on each `SIGHUP`, until graceful shutdown.
public struct ReloadOnSignalService: Service, CustomStringConvertible {
    let reloader: ConfigurationReloader

    public init(reloader: ConfigurationReloader) { self.reloader = reloader }

    public var description: String { "ReloadOnSIGHUP" }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        let reloader = reloader
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                _ = try? reloader.reload(trigger: "sighup")
            }
        }
    }
}

/// Reloads the configuration when its file changes (`serve --watch`): the file is read
/// every `interval`, and a change is applied once the content has stayed the same for one
/// more interval, so an editor's several writes make one reload.
public struct ConfigurationWatchService: Service, CustomStringConvertible {
    let reloader: ConfigurationReloader
    let path: String
    let interval: Duration
    /// The content the running configuration came from: read when the service is made,
    /// right after the mesh was built from the file.
    let initial: Data?

    public init(reloader: ConfigurationReloader, path: String, interval: Duration = .milliseconds(500)) {
        self.reloader = reloader
        self.path = path
        self.interval = interval
        initial = Self.read(path)
    }

    public var description: String { "ConfigurationWatch(\(path))" }

    public func run() async throws {
        let path = path
        let interval = interval
        let reloader = reloader
        let initial = initial
        await cancelWhenGracefulShutdown {
            var applied = initial
            var seen = applied
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { return }
                let now = Self.read(path)
                defer { seen = now }
                // Missing or unreadable (mid-rename): wait for the file to come back.
                guard let now, now != applied, now == seen else { continue }
                applied = now
                _ = try? reloader.reload(trigger: "watch")
            }
        }
    }

    static func read(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }
}

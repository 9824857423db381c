import Foundation
import Synchronization

/// Where the mesh keeps state that must survive a restart: model states and cooldowns,
/// provider deactivations, and budget spend.
public protocol StateStorage: Sendable {
    /// The stored bytes for `key`, or nil.
    func load(key: String) throws -> Data?
    /// Replaces the bytes stored for `key`.
    func save(key: String, data: Data) throws
}

/// Keeps state in memory only (`modelmesh.memory.v1`): nothing survives a restart.
public final class InMemoryStateStorage: StateStorage {
    private let entries = Mutex<[String: Data]>([:])

    public init() {}

    public func load(key: String) throws -> Data? { entries.withLock { $0[key] } }
    public func save(key: String, data: Data) throws { entries.withLock { $0[key] = data } }
}

/// Keeps state as JSON files in a directory (`modelmesh.local-file.v1`), written
/// atomically so a crash never leaves a half-written file.
public struct LocalFileStateStorage: StateStorage {
    public let directory: URL

    /// - Parameter path: the directory (created when missing).
    public init(path: String) {
        directory = URL(fileURLWithPath: path, isDirectory: true)
    }

    public func load(key: String) throws -> Data? {
        let url = file(key)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try Data(contentsOf: url)
    }

    public func save(key: String, data: Data) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try data.write(to: file(key), options: .atomic)
    }

    private func file(_ key: String) -> URL {
        let safe = key.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }
        return directory.appendingPathComponent(String(safe) + ".json")
    }
}

/// The persisted form of a mesh's state.
struct MeshStateSnapshot: Codable {
    struct Member: Codable {
        var state: ModelState
        var reason: DeactivationReason?
        var cooldownUntil: Date?
        var cooldownLevel: Int
        var deactivatedAt: Date?
        /// Usage inside the current quota window (UTC day), behind request, token and
        /// budget limits; absent in files written before they were kept.
        var usage: Usage?
    }

    struct Usage: Codable {
        var windowKey: String
        var requests: Int
        var tokens: Int
        var cost: Double
    }

    var version = 1
    var savedAt: Date
    /// pool id → model id → state.
    var pools: [String: [String: Member]]
    /// provider id → deactivation reason.
    var providers: [String: ProviderDeactivationReason]
    /// provider id → fingerprint of its connector, base URL and credentials, to tell
    /// whether a saved deactivation still applies.
    var providerFingerprints: [String: String]?
    var budget: Data?
}

import Foundation
import Hummingbird
import ModelMesh
import Synchronization

/// The OpenAI model listing: every pool (`owned_by: modelmesh`), then every model
/// (`owned_by`: the text before the first dot of its id).
struct ModelList: Sendable {
    struct Entry: Codable, Sendable {
        var id: String
        var object = "model"
        var created: Int
        var ownedBy: String

        enum CodingKeys: String, CodingKey {
            case id, object, created
            case ownedBy = "owned_by"
        }
    }

    struct Listing: Codable, Sendable {
        var object = "list"
        var data: [Entry]
    }

    let entries: [Entry]
    private let byID: [String: Entry]

    init(configuration: MeshConfiguration, created: Date) {
        let stamp = Int(created.timeIntervalSince1970)
        let enabled = Set(configuration.providers.filter(\.enabled).map(\.id))
        var entries = configuration.pools.map { Entry(id: $0.id, created: stamp, ownedBy: "modelmesh") }
        for model in configuration.models where enabled.contains(model.provider) {
            guard !entries.contains(where: { $0.id == model.id }) else { continue }
            entries.append(Entry(id: model.id, created: stamp, ownedBy: model.ownedBy))
        }
        self.entries = entries
        byID = Dictionary(entries.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    func entry(_ id: String) -> Entry? { byID[id] }

    /// Known ids nearest to `id`, closest first.
    func nearest(to id: String, limit: Int = 3) -> [String] {
        NameSuggestion.ranked(to: id, in: entries.map(\.id), limit: limit)
    }
}

/// The model listing of the configuration version in force, built once per version.
final class ModelListCache: Sendable {
    private let created: Date
    private let cached = Mutex<(version: Int, list: ModelList)?>(nil)

    init(created: Date) { self.created = created }

    func listing(for mesh: Mesh) -> ModelList {
        let version = mesh.configurationVersion.version
        if let hit = cached.withLock({ $0 }), hit.version == version { return hit.list }
        let list = ModelList(configuration: mesh.configuration, created: created)
        cached.withLock { $0 = (version, list) }
        return list
    }
}

extension ProxyHandlers {
    /// `GET /v1/models`.
    func listModels(_ request: Request, context: ProxyRequestContext) async throws -> Response {
        try Self.json(ModelList.Listing(data: modelList.entries))
    }

    /// `GET /v1/models/{id}`; ids may contain dots and slashes.
    func model(_ request: Request, context: ProxyRequestContext) async throws -> Response {
        let id = context.parameters.getCatchAll().joined(separator: "/")
        guard let entry = modelList.entry(id) else {
            throw ModelMeshError(
                .modelNotFound, "Model '\(id)' not found", hint: "GET /v1/models lists the pools and models",
                suggestions: modelList.nearest(to: id))
        }
        return try Self.json(entry)
    }
}

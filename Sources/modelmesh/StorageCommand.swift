import ArgumentParser
import Foundation
import ModelMesh
import ModelMeshPostgres

/// `modelmesh storage ...`: the shared store.
struct StorageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Manage the state store shared by several replicas.",
        subcommands: [MigrateCommand.self])
}

/// `modelmesh storage migrate`: creates or upgrades the PostgreSQL schema ahead of a
/// rollout, and with `--from` copies a local-file store's state and spend into it.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or upgrade the shared store's schema; optionally import a local-file state.",
        discussion: """
            Replicas migrate on start as well; run this ahead of a rollout so none of them waits. \
            --from copies model and provider states and settled spend from a modelmesh.local-file.v1 \
            store (its directory, default .modelmesh, or its JSON file). Importing the same file twice \
            counts its spend once.
            """)

    @Option(name: .long, help: "The configuration file naming storage.connector: modelmesh.postgres.v1.")
    var config: String

    @Option(name: .long, help: "A local-file store's directory or state file to import.")
    var from: String?

    func run() async throws {
        let configuration = try ConfigurationLoader.load(path: config)
        guard let settings = configuration.storage.postgres else {
            throw ValidationError(
                "\(config): storage.connector is \(configuration.storage.connector), not modelmesh.postgres.v1")
        }
        // Read the file first: a bad path changes nothing in the database.
        let imported = try from.map(SharedStateImport.read(path:))
        let store = PostgresStateStore(settings: settings, replicaID: "migrate-\(UUID().uuidString.lowercased())")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await store.run() }
            defer { group.cancelAll() }
            let before = try await store.schemaVersion()
            let applied = try await store.migrate()
            print(
                applied.isEmpty
                    ? "Schema '\(settings.schema)' is at version \(before): nothing to migrate"
                    : "Schema '\(settings.schema)': applied migration\(applied.count == 1 ? "" : "s") "
                        + applied.map(String.init).joined(separator: ", "))
            if let imported, let source = from {
                try await store.publish(imported.records)
                let stamp = Int(imported.savedAt.timeIntervalSince1970)
                for row in imported.spend {
                    try await store.importSpend(id: "import:\(stamp):\(row.key)", key: row.key, spent: row.spent)
                }
                let dollars = imported.spend.filter { $0.key == "global|total" }.map(\.spent).reduce(0, +)
                print(
                    "Imported \(imported.records.count) state\(imported.records.count == 1 ? "" : "s") and "
                        + "\(imported.spend.count) spend row\(imported.spend.count == 1 ? "" : "s") from \(source)"
                        + (dollars > 0 ? String(format: " (global total $%.6f)", Double(dollars) / 1e9) : ""))
            }
        }
    }
}

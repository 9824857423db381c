import ArgumentParser
import ModelMesh

@main
struct ModelMeshCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modelmesh",
        abstract: "Capability-driven AI model routing with automatic failover.",
        subcommands: [ServeCommand.self, ValidateCommand.self, ExplainCommand.self, DescribeCommand.self, StorageCommand.self]
    )
}

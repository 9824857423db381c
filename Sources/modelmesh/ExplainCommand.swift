import ArgumentParser
import Foundation
import ModelMesh
import ModelMeshProviders

/// `modelmesh explain --config FILE MODEL`: the routing dry run.
struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show where a request for MODEL would go: the pool, the models filtered out and why, the chain.",
        discussion: "Nothing is sent to any provider.")

    @Option(name: .long, help: "The configuration file (modelmesh.yaml).")
    var config: String

    @Argument(help: "A pool id, capability (e.g. chat-completion) or model id.")
    var model: String

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    @Flag(name: .long, help: "Explain a streamed request.")
    var stream = false

    func run() async throws {
        let mesh = try Mesh(configuration: try MeshSource.file(config).offline, providers: .builtIn)
        let request = ChatCompletionRequest(model: model, messages: [.user("ping")], stream: stream)
        do {
            let explanation = try mesh.explain(request)
            print(json ? try Self.encode(explanation) : explanation.text)
        } catch let error as ModelMeshError {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(2)
        }
        try? await BuiltInProviders.shutdown()
    }

    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// `modelmesh describe --config FILE`: pools, members and providers as configured.
struct DescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe", abstract: "List the pools, their members in priority order, and the providers.")

    @Option(name: .long, help: "The configuration file (modelmesh.yaml).")
    var config: String

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func run() async throws {
        let mesh = try Mesh(configuration: try MeshSource.file(config).offline, providers: .builtIn)
        let description = mesh.describe()
        if json {
            print(try ExplainCommand.encode(description))
        } else {
            for pool in description.pools {
                print("pool \(pool.id)  capability=\(pool.capability ?? "-")  strategy=\(pool.strategy)")
                for member in pool.members {
                    print("  \(member.position + 1). \(member.modelID) via \(member.providerID)  \(member.state.rawValue)"
                        + (member.reason.map { " (\($0))" } ?? ""))
                }
            }
            for provider in description.providers {
                print("provider \(provider.id)  connector=\(provider.connector)  \(provider.state)")
            }
        }
        try? await BuiltInProviders.shutdown()
    }
}

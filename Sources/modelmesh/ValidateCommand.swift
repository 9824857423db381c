import ArgumentParser
import ModelMesh

/// `modelmesh validate FILE`: reports every problem in a configuration file.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a configuration file and report every problem in it.",
        discussion: "Prints each problem as `path: message — hint` and exits 1, or prints a summary and exits 0."
    )

    @Argument(help: "The configuration file (modelmesh.yaml).")
    var file: String

    func run() throws {
        let report = ConfigurationLoader.report(path: file)
        print(report.text)
        if !report.isValid { throw ExitCode(report.exitCode) }
    }
}

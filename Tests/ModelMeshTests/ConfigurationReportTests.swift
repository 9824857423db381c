import Foundation
import Testing

@testable import ModelMesh

/// What `modelmesh validate FILE` prints and its exit code.
@Suite struct ConfigurationReportTests {
    private func write(_ text: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mesh-report-\(UUID().uuidString).yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    @Test func validFileExitsZeroWithSummary() throws {
        let path = try write(
            """
            providers:
              openai: {api_key: k}
            models:
              openai.gpt-4o: {provider: openai, capabilities: [chat]}
              openai.gpt-4o-mini: {provider: openai, capabilities: [chat]}
            pools:
              chat: {capability: chat}
            """)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let report = ConfigurationLoader.report(path: path, environment: [:])
        #expect(report.exitCode == 0)
        #expect(report.text == "\(path): OK — 1 provider, 2 models, 1 pool")
    }

    @Test func invalidFileExitsOneListingEveryIssue() throws {
        let path = try write("provders: {}\npools:\n  chat: {capability: chat, strategy: nope, retry: {timeout: 5x}}\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let report = ConfigurationLoader.report(path: path, environment: [:])
        #expect(report.exitCode == 1)
        let lines = report.text.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0] == "\(path): 3 problems")
        #expect(lines[1] == "provders (line 1, column 1): Unknown top-level key 'provders' — Did you mean 'providers'?")
        #expect(lines.contains { $0.hasPrefix("pools.chat.strategy (line 3, column ") })
        #expect(lines.contains { $0.hasPrefix("pools.chat.retry.timeout (line 3, column ") && $0.contains(" — ") })
    }

    @Test func missingFileExitsOne() {
        let report = ConfigurationLoader.report(path: "/nonexistent/modelmesh.yaml", environment: [:])
        #expect(report.exitCode == 1)
        #expect(report.configuration == nil)
        #expect(report.issues.map(\.kind) == [.fileNotFound])
        #expect(report.text.contains("Configuration file not found: /nonexistent/modelmesh.yaml"))
    }
}

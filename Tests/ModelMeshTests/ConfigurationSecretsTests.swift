import Foundation
import Testing

@testable import ModelMesh

@Suite struct ConfigurationSecretsTests {
    private func temporaryFile(_ contents: String, suffix: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "mesh-secrets-\(UUID().uuidString)\(suffix)")
        try contents.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func plainAndEmbeddedReferencesFromEnvironment() throws {
        let yaml = """
            providers:
              openai:
                api_key: ${secrets:OPENAI_API_KEY}
                headers: {Authorization: "Bearer ${secrets:hook-token}", X-Org: "${ORG}-${ORG}"}
                base_url: https://${HOST}/v1
            """
        let env = ["OPENAI_API_KEY": "sk-1", "hook-token": "tok", "ORG": "acme", "HOST": "api.example.com"]
        let config = try ConfigurationLoader.parse(yaml: yaml, environment: env)
        let provider = config.providers[0]
        #expect(provider.apiKey?.value == "sk-1")
        #expect(provider.headers["Authorization"]?.value == "Bearer tok")
        #expect(provider.headers["X-Org"]?.value == "acme-acme")
        #expect(provider.baseURL == "https://api.example.com/v1")
    }

    @Test func textThatIsNotAReferenceIsKept() throws {
        let config = try ConfigurationLoader.parse(
            yaml: "providers:\n  openai: {api_key: 'k', x_title: 'cost ${1.50} and ${ unclosed'}", environment: [:])
        #expect(config.providers[0].settings["x_title"] == .string("cost ${1.50} and ${ unclosed"))
    }

    @Test func resolvedValueIsNotScannedAgain() throws {
        let config = try ConfigurationLoader.parse(
            yaml: "providers:\n  openai: {api_key: '${secrets:K}'}", environment: ["K": "${secrets:OTHER}"])
        #expect(config.providers[0].apiKey?.value == "${secrets:OTHER}")
    }

    @Test func dotenvStore() throws {
        let file = try temporaryFile(
            """
            # comment
            OPENAI_KEY=sk-dotenv
            export QUOTED="has # hash"
            INLINE=value # trailing comment
            MULTI=first \\
            second

            """, suffix: ".env")
        defer { try? FileManager.default.removeItem(at: file) }
        let yaml = """
            secrets: {store: modelmesh.dotenv.v1, path: \(file.path)}
            providers:
              openai: {api_key: "${secrets:OPENAI_KEY}", organization: "${secrets:QUOTED}", project: "${secrets:INLINE}", x_title: "${secrets:MULTI}"}
            """
        let config = try ConfigurationLoader.parse(yaml: yaml, environment: ["OPENAI_KEY": "from-env"])
        let provider = config.providers[0]
        #expect(provider.apiKey?.value == "sk-dotenv")
        #expect(provider.settings["organization"] == .string("has # hash"))
        #expect(provider.settings["project"] == .string("value"))
        #expect(provider.settings["x_title"] == .string("first second"))
    }

    @Test func dotenvPathFromEnvironmentVariable() throws {
        let file = try temporaryFile("K=v\n", suffix: ".env")
        defer { try? FileManager.default.removeItem(at: file) }
        let yaml =
            "secrets: {connector: modelmesh.dotenv.v1, config: {path: '${SECRETS_FILE}'}}\nproxy: {tokens: ['${secrets:K}']}"
        let config = try ConfigurationLoader.parse(yaml: yaml, environment: ["SECRETS_FILE": file.path])
        #expect(config.proxy.tokens.map(\.value) == ["v"])
    }

    @Test func jsonStore() throws {
        let file = try temporaryFile(
            #"{"openai-api-key": "sk-json", "port": 9000, "nested": {"x": 1}}"#, suffix: ".json")
        defer { try? FileManager.default.removeItem(at: file) }
        let yaml = """
            secrets: {store: modelmesh.json-secrets.v1, path: \(file.path)}
            providers:
              openai: {api_key: "${secrets:openai-api-key}"}
            proxy: {port: "${secrets:port}"}
            """
        let config = try ConfigurationLoader.parse(yaml: yaml, environment: [:])
        #expect(config.providers[0].apiKey?.value == "sk-json")
        #expect(config.proxy.port == 9000)
    }

    @Test func unreadableStoreFilesAreIssues() throws {
        let missing = ConfigurationLoader.validate(
            yaml:
                "secrets: {store: modelmesh.json-secrets.v1, path: /nonexistent/s.json}\nproviders:\n  openai: {api_key: '${secrets:X}'}",
            environment: [:])
        // One issue for the store; references to it do not add one each.
        #expect(missing.map(\.kind) == [.secretStoreUnavailable])
        #expect(missing.first?.path == "secrets.path")

        let notJSON = try temporaryFile("KEY=value", suffix: ".json")
        defer { try? FileManager.default.removeItem(at: notJSON) }
        let invalid = ConfigurationLoader.validate(
            yaml: "secrets: {store: modelmesh.json-secrets.v1, path: \(notJSON.path)}", environment: [:])
        #expect(invalid.map(\.kind) == [.secretStoreUnavailable])
        #expect(invalid.first?.message.contains("not a JSON object") == true)

        let noPath = ConfigurationLoader.validate(yaml: "secrets: {store: modelmesh.json-secrets.v1}", environment: [:])
        #expect(noPath.map(\.kind) == [.missingValue])
    }

    @Test func memoryStoreFromConfigurationAndFromCode() throws {
        let yaml = """
            secrets:
              store: modelmesh.memory.v1
              values: {k1: from-yaml}
            providers:
              openai: {api_key: "${secrets:k1}"}
            """
        #expect(try ConfigurationLoader.parse(yaml: yaml, environment: [:]).providers[0].apiKey?.value == "from-yaml")
        let injected = try ConfigurationLoader.parse(
            yaml: yaml, secrets: InMemorySecretStore(["k1": "from-code"]), environment: [:])
        #expect(injected.providers[0].apiKey?.value == "from-code")
    }

    @Test func missingSecretNamesItAndItsPath() {
        let yaml = """
            providers:
              openai: {api_key: "${secrets:OPENAI_API_KEY}"}
            observability:
              routing:
                connector: modelmesh.webhook.v1
                url: https://example.com
                headers: {Authorization: "Bearer ${secrets:hook-token}"}
            """
        let issues = ConfigurationLoader.validate(yaml: yaml, environment: ["OPENAI_API_KEY": "sk-present"])
        #expect(issues.count == 1)
        let issue = issues.first
        #expect(issue?.kind == .missingSecret)
        #expect(issue?.path == "observability.routing.headers.Authorization")
        #expect(issue?.message == "Secret 'hook-token' not found in secret store modelmesh.env.v1")
        #expect(issue?.hint?.contains("hook-token") == true)
        #expect(issue.map { "\($0) \($0.message) \($0.hint ?? "")" }?.contains("sk-present") == false)
    }

    @Test func missingEnvironmentVariable() {
        let issues = ConfigurationLoader.validate(yaml: "proxy: {host: '${BIND_HOST}'}", environment: [:])
        #expect(issues.map(\.kind) == [.missingSecret])
        #expect(issues.first?.message == "Environment variable 'BIND_HOST' is not set")
    }

    @Test func failOnMissingFalseResolvesToEmpty() throws {
        let yaml = "secrets: {fail_on_missing: false}\nproviders:\n  openai: {api_key: 'x${secrets:NOPE}y'}"
        let config = try ConfigurationLoader.parse(yaml: yaml, environment: [:])
        #expect(config.providers[0].apiKey?.value == "xy")
    }

    @Test func secretReferencesCannotConfigureTheStore() {
        let issues = ConfigurationLoader.validate(yaml: "secrets: {path: '${secrets:p}'}", environment: [:])
        #expect(issues.map(\.path) == ["secrets.path"])
    }

    /// No issue, error description or configuration description contains a resolved secret.
    @Test func resolvedSecretsNeverLeak() throws {
        let secrets = ["sk-LEAK-1", "tok-LEAK-2", "proxy-LEAK-3", "mem-LEAK-4"]
        let yaml = """
            secrets:
              store: modelmesh.memory.v1
              values: {openai: sk-LEAK-1, hook: tok-LEAK-2, proxy: proxy-LEAK-3, mem: mem-LEAK-4}
            providers:
              openai:
                api_key: "${secrets:openai}"
                headers: {Authorization: "Bearer ${secrets:hook}"}
                x_title: "${secrets:mem}"
              broken: {connector: nope.v1, api_key: "${secrets:openai}"}
            models:
              openai.gpt-4o: {provider: openai, capabilities: [chat], context_window: "${secrets:openai}"}
            pools:
              chat: {capability: chat, retry: {initial_delay: "${secrets:hook}", max_attempts: "${secrets:proxy}"}}
            observability:
              routing:
                connector: modelmesh.webhook.v1
                url: https://hooks.example.com/mesh
                headers: {Authorization: "Bearer ${secrets:hook}"}
                events: ["${secrets:mem}"]
            proxy: {tokens: ["${secrets:proxy}"], port: "${secrets:proxy}", body_limit: "${secrets:mem}"}
            """
        let issues = ConfigurationLoader.validate(yaml: yaml, environment: [:])
        // Values in the wrong places are reported, quoting the reference, not its value.
        #expect(issues.count >= 6)
        #expect(issues.contains { $0.message.contains("${secrets:hook}") })
        #expect(issues.contains { $0.path == "observability.routing.events[0]" && $0.message.contains("<redacted>") })
        let error = ConfigurationError(issues: issues)
        var texts = issues.map { "\($0) \($0.message) \($0.hint ?? "")" } + [error.description, "\(error)"]

        let valid = yaml.replacingOccurrences(
            of: "  broken: {connector: nope.v1, api_key: \"${secrets:openai}\"}\n", with: ""
        )
        .replacingOccurrences(of: ", context_window: \"${secrets:openai}\"", with: "")
        .replacingOccurrences(
            of: "initial_delay: \"${secrets:hook}\", max_attempts: \"${secrets:proxy}\"", with: "max_attempts: 2"
        )
        .replacingOccurrences(of: "    events: [\"${secrets:mem}\"]\n", with: "")
        .replacingOccurrences(of: ", port: \"${secrets:proxy}\", body_limit: \"${secrets:mem}\"", with: "")
        let config = try ConfigurationLoader.parse(yaml: valid, environment: [:])
        #expect(config.providers[0].apiKey?.value == "sk-LEAK-1")
        #expect(config.providers[0].settings["x_title"] == .string("mem-LEAK-4"))
        #expect(
            config.observability.connectors[0].settings["headers"]
                == .object(["Authorization": .string("Bearer tok-LEAK-2")]))
        texts += [
            String(describing: config), String(reflecting: config), "\(config.providers)", "\(config.secrets)",
            "\(config.observability)", "\(config.proxy)", String(describing: config.providers[0].apiKey),
        ]
        for text in texts {
            for secret in secrets {
                #expect(!text.contains(secret), "leaked \(secret) in: \(text)")
            }
        }
    }
}

import Testing

@testable import ModelMesh

@Suite struct ConfigurationTracingTests {
    static let base = """
        providers:
          openai: {api_key: k}
        models:
          openai.gpt-4o: {provider: openai, capabilities: [chat]}

        """

    private func issues(_ tracing: String, environment: [String: String] = [:]) -> [ConfigurationIssue] {
        ConfigurationLoader.validate(
            yaml: Self.base + "observability:\n  tracing:\n" + tracing, environment: environment)
    }

    @Test func tracingIsOffByDefault() throws {
        let configuration = try ConfigurationLoader.parse(yaml: Self.base, environment: [:])
        #expect(configuration.observability.tracing == nil)
    }

    @Test func otelConnectorAtTheTopLevelPointsToTracing() {
        let found = ConfigurationLoader.validate(
            yaml: Self.base + "observability:\n  connectors:\n    - connector: modelmesh.otel.v1\n", environment: [:])
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.path == "observability.connectors[0].connector")
        #expect(found.first?.hint?.contains("observability.tracing") == true)
    }

    #if OpenTelemetry
        @Test func everyKeyIsRead() throws {
            let yaml =
                Self.base + """
                    observability:
                      tracing:
                        connector: modelmesh.otel.v1
                        endpoint: https://collector.example.com:4318
                        protocol: http/json
                        headers: {Authorization: "Bearer ${OTEL_TOKEN}"}
                        sample_ratio: 0.25
                        service_name: mesh-eu

                    """
            let configuration = try ConfigurationLoader.parse(yaml: yaml, environment: ["OTEL_TOKEN": "tok-0123456789"])
            let tracing = try #require(configuration.observability.tracing)
            #expect(tracing.endpoint == "https://collector.example.com:4318")
            #expect(tracing.tracesURL == "https://collector.example.com:4318/v1/traces")
            #expect(tracing.exportProtocol == .httpJSON)
            #expect(tracing.headers["Authorization"]?.value == "Bearer tok-0123456789")
            #expect(tracing.sampleRatio == 0.25)
            #expect(tracing.serviceName == "mesh-eu")
            // No description shows a header value.
            #expect(!"\(tracing)".contains("tok-0123456789"))
            #expect(!"\(configuration.observability)".contains("tok-0123456789"))
            #expect("\(tracing)".contains("Authorization"))
        }

        @Test func defaults() throws {
            let configuration = try ConfigurationLoader.parse(
                yaml: Self.base + "observability:\n  tracing: {connector: modelmesh.otel.v1}\n", environment: [:])
            let tracing = try #require(configuration.observability.tracing)
            #expect(tracing.tracesURL == "http://localhost:4318/v1/traces")
            #expect(tracing.exportProtocol == .httpProtobuf)
            #expect(tracing.sampleRatio == 1)
            #expect(tracing.serviceName == "modelmesh")
            // The internal trace lines keep going to the connectors.
            #expect(!configuration.observability.connectors.isEmpty)
        }

        @Test(
            "Bad values are reported at their path",
            arguments: [
                ("protocol: thrift", "observability.tracing.protocol", ConfigurationIssue.Kind.invalidValue),
                ("protocol: grpc", "observability.tracing.protocol", .notSupported),
                ("sample_ratio: 1.5", "observability.tracing.sample_ratio", .invalidValue),
                ("sample_ratio: -0.1", "observability.tracing.sample_ratio", .invalidValue),
                ("endpoint: collector:4318", "observability.tracing.endpoint", .invalidValue),
                ("endpoint: ftp://collector", "observability.tracing.endpoint", .invalidValue),
                ("service_name: ' '", "observability.tracing.service_name", .invalidValue),
                ("batch_size: 10", "observability.tracing.batch_size", .unknownKey),
                ("headers: [a, b]", "observability.tracing.headers", .wrongType),
            ])
        func badValues(line: String, path: String, kind: ConfigurationIssue.Kind) {
            let found = issues("    connector: modelmesh.otel.v1\n    \(line)\n")
            #expect(found.count == 1, "\(found)")
            #expect(found.first?.path == path, "\(found)")
            #expect(found.first?.kind == kind, "\(found)")
            #expect(found.first?.hint?.isEmpty == false)
        }

        @Test func headerSecretsNeverReachIssues() {
            let found = issues(
                "    connector: modelmesh.otel.v1\n    headers: {Authorization: \"${OTEL_TOKEN}\"}\n    endpoint: ${OTEL_TOKEN}\n",
                environment: ["OTEL_TOKEN": "tok-0123456789"])
            #expect(found.count == 1, "\(found)")
            #expect(!"\(found)".contains("tok-0123456789"))
        }
    #else
        @Test func rejectedWithoutTheTrait() {
            let found = issues("    connector: modelmesh.otel.v1\n    endpoint: http://collector:4318\n")
            #expect(found.count == 1, "\(found)")
            #expect(found.first?.kind == .notSupported)
            #expect(found.first?.path == "observability.tracing.connector")
            #expect(found.first?.hint?.contains("--traits OpenTelemetry") == true)
        }
    #endif
}

import Testing

@testable import ModelMesh

@Suite("proxy.limits")
struct ConfigurationProxyLimitsTests {
    static let base = """
        providers:
          openai: {api_key: k}
        models:
          openai.gpt-4o: {provider: openai, capabilities: [chat]}

        """

    @Test("Without the section every limit has its safe default")
    func defaults() throws {
        let limits = try ConfigurationLoader.parse(yaml: Self.base, environment: [:]).proxy.limits
        #expect(limits.headTimeout == .seconds(10))
        #expect(limits.idleTimeout == .seconds(60))
        #expect(limits.bodyTimeout == .seconds(30))
        #expect(limits.maxHeaderSize == 32 * 1024)
        #expect(limits.maxHeaders == 100)
        #expect(limits.maxConnections == 4096)
        #expect(limits.maxUpstreamBody == 64 * 1024 * 1024)
        #expect(limits.maxSSEEvent == 16 * 1024 * 1024)
        #expect(limits.maxStreamDuration == nil)
        #expect(limits == ProxyConfiguration.Limits())
    }

    @Test("Every key is read")
    func everyKey() throws {
        let yaml =
            Self.base + """
                proxy:
                  limits:
                    head_timeout: 2s
                    idle_timeout: 5m
                    body_timeout: 500ms
                    max_header_size: 16KB
                    max_headers: 20
                    max_connections: 10
                    max_upstream_body: 2MB
                    max_sse_event: 64KB
                    max_stream_duration: 10m
                """
        let limits = try ConfigurationLoader.parse(yaml: yaml, environment: [:]).proxy.limits
        #expect(limits.maxUpstreamBody == 2 * 1024 * 1024)
        #expect(limits.maxSSEEvent == 64 * 1024)
        #expect(limits.maxStreamDuration == .seconds(600))
        #expect(limits.headTimeout == .seconds(2))
        #expect(limits.idleTimeout == .seconds(300))
        #expect(limits.bodyTimeout == .milliseconds(500))
        #expect(limits.maxHeaderSize == 16 * 1024)
        #expect(limits.maxHeaders == 20)
        #expect(limits.maxConnections == 10)
    }

    @Test("A partial section keeps the other defaults")
    func partial() throws {
        let yaml = Self.base + "proxy: {limits: {max_connections: 3}}\n"
        let limits = try ConfigurationLoader.parse(yaml: yaml, environment: [:]).proxy.limits
        #expect(limits.maxConnections == 3)
        #expect(limits.headTimeout == .seconds(10))
        #expect(limits.maxHeaders == 100)
    }

    @Test(
        "Bad values are reported at their path",
        arguments: [
            ("head_timeout: 0s", ConfigurationIssue.Kind.invalidValue, "head_timeout"),
            ("idle_timeout: soon", .invalidDuration, "idle_timeout"),
            ("body_timeout: 0", .invalidValue, "body_timeout"),
            ("max_header_size: 100", .invalidValue, "max_header_size"),
            ("max_header_size: big", .invalidValue, "max_header_size"),
            ("max_headers: 0", .invalidValue, "max_headers"),
            ("max_headers: many", .wrongType, "max_headers"),
            ("max_connections: -1", .invalidValue, "max_connections"),
            ("max_conections: 5", .unknownKey, "max_conections"),
            ("max_upstream_body: 10", .invalidValue, "max_upstream_body"),
            ("max_sse_event: 512", .invalidValue, "max_sse_event"),
            ("max_stream_duration: 0s", .invalidValue, "max_stream_duration"),
            ("max_stream_duration: long", .invalidDuration, "max_stream_duration"),
        ])
    func badValues(line: String, kind: ConfigurationIssue.Kind, key: String) {
        let yaml = Self.base + "proxy:\n  limits:\n    \(line)\n"
        let found = ConfigurationLoader.validate(yaml: yaml, environment: [:])
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.kind == kind, "\(found)")
        #expect(found.first?.path == "proxy.limits.\(key)", "\(found)")
        #expect(found.first?.hint?.isEmpty == false)
    }

    @Test("An unknown key suggests the nearest one")
    func suggestion() {
        let yaml = Self.base + "proxy: {limits: {header_timeout: 5s}}\n"
        let found = ConfigurationLoader.validate(yaml: yaml, environment: [:])
        #expect(found.count == 1)
        #expect(found.first?.hint?.contains("head_timeout") == true, "\(found)")
    }

    @Test("limits must be a mapping")
    func notAMapping() {
        let found = ConfigurationLoader.validate(yaml: Self.base + "proxy: {limits: 5}\n", environment: [:])
        #expect(found.count == 1)
        #expect(found.first?.kind == .wrongType)
        #expect(found.first?.path == "proxy.limits")
    }
}

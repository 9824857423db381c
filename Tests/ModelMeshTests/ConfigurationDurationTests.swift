import Testing

@testable import ModelMesh

@Suite struct ConfigurationDurationTests {
    @Test(arguments: [
        ("500ms", Duration.milliseconds(500)),
        ("30s", .seconds(30)),
        ("5m", .seconds(300)),
        ("1h", .seconds(3600)),
        ("1d", .seconds(86400)),
        ("1.5h", .seconds(5400)),
        ("0.25s", .milliseconds(250)),
        (".5s", .milliseconds(500)),
        ("30 s", .seconds(30)),
        (" 2m ", .seconds(120)),
        ("30", .seconds(30)),
        ("0.1", .milliseconds(100)),
        ("0", .zero),
        ("1.5ms", .microseconds(1500)),
    ])
    func validDurations(text: String, expected: Duration) {
        #expect(DurationParser.parse(text) == expected)
    }

    @Test(arguments: [
        "5x", "", "s", "ms", "-1s", "1e3s", "1.2.3s", "inf", "nan", "1 h 2", "30 sec", "1w", "+5s", "1_000s",
    ])
    func invalidDurations(text: String) {
        #expect(DurationParser.parse(text) == nil)
    }

    @Test func hugeDurationIsRejected() {
        #expect(DurationParser.parse("99999999999999d") == nil)
    }

    @Test func yamlNumbersAreSeconds() throws {
        let yaml = """
            providers:
              openai: {api_key: k, timeout: 45}
            proxy: {shutdown_timeout: 2.5}
            """
        let config = try ConfigurationLoader.parse(yaml: yaml, environment: [:])
        #expect(config.providers[0].timeout == .seconds(45))
        #expect(config.proxy.shutdownTimeout == .milliseconds(2500))
    }

    @Test(arguments: [
        ("10MB", 10 * 1024 * 1024), ("512KB", 512 * 1024), ("1GB", 1024 * 1024 * 1024), ("1.5 MB", 1_572_864),
        ("2MiB", 2 * 1_048_576), ("4096", 4096), ("100B", 100),
    ])
    func bodyLimitSizes(text: String, bytes: Int) throws {
        let config = try ConfigurationLoader.parse(yaml: "proxy: {body_limit: '\(text)'}", environment: [:])
        #expect(config.proxy.bodyLimit == bytes)
    }
}

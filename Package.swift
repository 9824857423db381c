// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "modelmesh",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ModelMesh", targets: ["ModelMesh"]),
        .library(name: "ModelMeshProviders", targets: ["ModelMeshProviders"]),
        .library(name: "ModelMeshServer", targets: ["ModelMeshServer"]),
        .library(name: "ModelMeshTesting", targets: ["ModelMeshTesting"]),
        .executable(name: "modelmesh", targets: ["modelmesh"]),
    ],
    traits: [
        // OTLP trace export (`observability.tracing`) through swift-otel. Without it the
        // engine still creates spans for a tracer the embedder bootstraps, and the
        // configuration key is rejected with a hint to build with the trait.
        .trait(name: "OpenTelemetry", description: "OTLP/HTTP trace export with swift-otel"),
        .default(enabledTraits: ["OpenTelemetry"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        // OTLP/HTTP only: swift-otel's gRPC exporter would add grpc-swift to the build.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        // The engine: capability pools, routing, failover, events, configuration, budgets.
        // No HTTP server and no vendor wire code live here.
        .target(
            name: "ModelMesh",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // Vendor wire formats (the OpenAI-compatible family, Anthropic, Gemini) over the data
        // plane's per-event-loop HTTP/1.1 client on SwiftNIO, and the observability connectors
        // that need more than the engine: the webhook (AsyncHTTPClient) and Prometheus.
        .target(
            name: "ModelMeshProviders",
            dependencies: [
                "ModelMesh",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // The OpenAI-compatible proxy: a Hummingbird application over a Mesh, plus the
        // server-side observability connectors (Prometheus, webhook).
        .target(
            name: "ModelMeshServer",
            dependencies: [
                "ModelMesh",
                // The HTTP connectors' transport, the webhook and Prometheus connectors.
                "ModelMeshProviders",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // Test support shipped to users: scripted mock providers, a controllable clock,
        // a fault-injecting fake upstream HTTP server.
        .target(
            name: "ModelMeshTesting",
            dependencies: [
                "ModelMesh",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // OTLP trace export (`modelmesh.otel.v1`): bootstraps swift-otel from
        // `observability.tracing`. Built with the `OpenTelemetry` trait only.
        .target(
            name: "ModelMeshOTel",
            dependencies: [
                "ModelMesh",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OTel", package: "swift-otel", condition: .when(traits: ["OpenTelemetry"])),
            ]
        ),
        // Shared state for several replicas on PostgreSQL (`modelmesh.postgres.v1`): health,
        // cooldowns, probe claims and the budget ledger.
        .target(
            name: "ModelMeshPostgres",
            dependencies: [
                "ModelMesh",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The command-line program: serve, validate, explain, describe.
        .executableTarget(
            name: "modelmesh",
            dependencies: [
                "ModelMesh",
                "ModelMeshProviders",
                "ModelMeshServer",
                "ModelMeshPostgres",
                "ModelMeshOTel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        // In-process routing decision benchmark: `swift run -c release modelmesh-routing-bench`.
        .executableTarget(
            name: "modelmesh-routing-bench",
            dependencies: [
                "ModelMesh",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Sources/RoutingBenchmark"
        ),
        // The command-line plumbing the benchmark's own processes share.
        .target(name: "BenchCommandLine"),
        // Fast fake OpenAI upstream for the proxy benchmark (`scripts/bench`), in its own process.
        .executableTarget(
            name: "modelmesh-fake-upstream",
            dependencies: [
                "BenchCommandLine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Sources/FakeUpstreamServer"
        ),
        // The floors of the proxy benchmark (`scripts/bench`): a pass-through with no routing,
        // its server and upstream client each either bare SwiftNIO or the library stack.
        .executableTarget(
            name: "modelmesh-passthrough",
            dependencies: [
                "BenchCommandLine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Sources/PassthroughFloor"
        ),
        .testTarget(
            name: "ModelMeshTests",
            dependencies: ["ModelMesh", "ModelMeshTesting"]
        ),
        .testTarget(
            name: "ModelMeshProvidersTests",
            dependencies: [
                "ModelMeshProviders", "ModelMeshTesting",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ModelMeshPostgresTests",
            dependencies: [
                "ModelMeshPostgres", "ModelMeshTesting",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(
            name: "ModelMeshServerTests",
            dependencies: [
                "ModelMeshServer",
                "ModelMeshProviders",
                "ModelMeshTesting",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        // Trace export end to end: the proxy against a fake OTLP/HTTP collector.
        .testTarget(
            name: "ModelMeshOTelTests",
            dependencies: [
                "ModelMeshOTel",
                "ModelMeshServer",
                "ModelMeshProviders",
                "ModelMeshTesting",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "OTel", package: "swift-otel", condition: .when(traits: ["OpenTelemetry"])),
            ]
        ),
    ]
)

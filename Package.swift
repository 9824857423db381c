// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "modelmesh",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ModelMesh", targets: ["ModelMesh"]),
        .library(name: "ModelMeshTesting", targets: ["ModelMeshTesting"]),
        .executable(name: "modelmesh", targets: ["modelmesh"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // The engine: capability pools, routing, failover, events, configuration, budgets.
        // No HTTP server and no vendor wire code live here.
        .target(
            name: "ModelMesh",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Test support shipped to users: scripted mock providers, a controllable clock.
        .target(
            name: "ModelMeshTesting",
            dependencies: ["ModelMesh"]
        ),
        // Vendor wire formats and the connectors that speak them.
        .target(
            name: "ModelMeshProviders",
            dependencies: [
                "ModelMesh",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "modelmesh",
            dependencies: [
                "ModelMesh",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "ModelMeshTests",
            dependencies: ["ModelMesh", "ModelMeshTesting"]
        ),
        .testTarget(
            name: "ModelMeshProvidersTests",
            dependencies: ["ModelMeshProviders"]
        ),
    ]
)

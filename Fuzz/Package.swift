// swift-tools-version: 6.1
//
// libFuzzer targets for ModelMesh's parsers, kept out of the main package so `swift build`
// at the repository root never builds them. Build and run them with `scripts/fuzz`:
//
//     scripts/fuzz --seconds 60 config sse
//
// or by hand (the flags matter: without them there is no libFuzzer, and `@testable import`
// cannot reach the internal decoders):
//
//     swift build -c debug --package-path Fuzz --scratch-path Fuzz/.build \
//         -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library -Xswiftc -enable-testing
//     MODELMESH_FUZZ_TARGET=sse Fuzz/.build/debug/modelmesh-fuzz Fuzz/Corpus/sse
//
// One executable holds every target; MODELMESH_FUZZ_TARGET selects one (see Targets.swift).
import PackageDescription

let package = Package(
    name: "modelmesh-fuzz",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "modelmesh-fuzz", targets: ["ModelMeshFuzz"])
    ],
    dependencies: [
        .package(name: "modelmesh", path: ".."),
        // Already in the root package's graph (same version); named here because the stream
        // targets drive EventStreamMachine with NIO's ByteBuffer and HTTPResponseHead.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "ModelMeshFuzz",
            dependencies: [
                "CFuzzerEntry",
                .product(name: "ModelMesh", package: "modelmesh"),
                .product(name: "ModelMeshProviders", package: "modelmesh"),
                .product(name: "ModelMeshTesting", package: "modelmesh"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The executable's `main`: hands the process to libFuzzer (see entry.c).
        .target(name: "CFuzzerEntry"),
    ]
)

// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "ckpt",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ckpt", targets: ["ckpt"]),
        .library(name: "Formats", targets: ["Formats"]),
        .library(name: "Quantize", targets: ["Quantize"]),
        .library(name: "Compute", targets: ["Compute"]),
        .library(name: "Verify", targets: ["Verify"]),
        .library(name: "Convert", targets: ["Convert"]),
        .library(name: "Catalog", targets: ["Catalog"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
    ],
    targets: [
        // System libraries (Debian: libopenblas-dev, libzstd-dev, zlib1g-dev; SQLite through GRDB).
        .systemLibrary(
            name: "COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),

        .target(
            name: "Formats",
            dependencies: [
                "CZlib",
                .product(name: "OrderedCollections", package: "swift-collections"),
            ]),
        .target(name: "Quantize", dependencies: ["Formats"]),
        .target(name: "Compute", dependencies: ["Quantize", "Formats", "COpenBLAS"]),
        .target(name: "Verify", dependencies: ["Compute"]),
        .target(name: "Convert", dependencies: ["Verify", "Quantize", "Formats"]),
        .target(
            name: "Catalog",
            dependencies: ["Convert"]),  // GRDB and swift-crypto come with the catalog
        .executableTarget(
            name: "ckpt",
            dependencies: [
                "Convert", "Catalog",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .executableTarget(
            name: "compute-bench", dependencies: ["Compute", "Formats", "COpenBLAS"],
            path: "Benchmarks/ComputeBench"),

        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "FormatsTests", dependencies: ["Formats", "TestSupport"]),
        .testTarget(name: "QuantizeTests", dependencies: ["Quantize", "Formats", "TestSupport"]),
        .testTarget(name: "ConvertTests", dependencies: ["Convert", "Formats", "Quantize", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["Formats", "TestSupport"]),
        .testTarget(name: "ComputeTests", dependencies: ["Compute", "Formats", "TestSupport"]),
    ]
)

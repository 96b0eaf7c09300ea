// swift-tools-version: 6.1
import Foundation
import PackageDescription

// The hot loops (quantizers, the engine's kernels, byte planes) are written with Swift SIMD
// types, which compile to the widest vector instructions the target CPU has. Like llama.cpp
// (GGML_NATIVE, its default), ckpt is built for the CPU it is built on: on a machine with
// AVX2 or AVX-512 they run 8 or 16 lanes wide instead of SSE2's 4. Set CKPT_PORTABLE=1 to
// build for the architecture's baseline instead: for binaries that move to other machines,
// and when ckpt is a dependency of another package (SwiftPM refuses unsafe flags there).
// Swift never contracts a * b + c into a fused multiply-add, so the bytes of the quantizers
// stay those of their references either way (the tests compare them bit for bit).
let portable = ProcessInfo.processInfo.environment["CKPT_PORTABLE"].map { !$0.isEmpty && $0 != "0" } ?? false
let nativeCPU: [SwiftSetting] =
    portable ? [] : [.unsafeFlags(["-target-cpu", "native"], .when(platforms: [.linux]))]

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
        .library(name: "Archive", targets: ["Archive"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
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

        // Hand-vectorized loops with run-time CPU dispatch, and the few system calls Swift's
        // Glibc module hides (see its header).
        .target(name: "CKernels"),
        .target(
            name: "Formats",
            dependencies: [
                "CZlib", "CKernels",
                .product(name: "OrderedCollections", package: "swift-collections"),
            ]),
        .target(name: "Quantize", dependencies: ["Formats"]),
        .target(name: "Compute", dependencies: ["Quantize", "Formats", "COpenBLAS", "CKernels"]),
        .target(name: "Verify", dependencies: ["Compute", "Quantize", "Formats"]),
        .target(name: "Convert", dependencies: ["Verify", "Quantize", "Formats"]),
        .target(
            name: "Catalog",
            dependencies: [
                "Archive", "Convert", "Verify", "Formats",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .target(name: "Archive", dependencies: ["Formats", "CKernels", "CZstd", "CZlib"]),
        .executableTarget(
            name: "ckpt",
            dependencies: [
                "Convert", "Catalog", "Verify", "Archive",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .target(name: "BenchSupport", path: "Benchmarks/BenchSupport"),
        .executableTarget(
            name: "ckpt-bench", dependencies: ["BenchSupport", "CKernels", "Convert", "Formats", "Quantize"],
            path: "Benchmarks/CkptBench"),
        .executableTarget(
            name: "quantize-bench", dependencies: ["BenchSupport", "Convert", "Formats", "Quantize"],
            path: "Benchmarks/QuantizeBench"),
        .executableTarget(
            name: "catalog-bench", dependencies: ["BenchSupport", "Catalog", "Formats"],
            path: "Benchmarks/CatalogBench"),
        .executableTarget(
            name: "archive-bench", dependencies: ["Archive", "BenchSupport", "Formats"],
            path: "Benchmarks/ArchiveBench"),
        .executableTarget(
            name: "compute-bench", dependencies: ["Compute", "Formats", "COpenBLAS"],
            path: "Benchmarks/ComputeBench"),
        .executableTarget(
            name: "decode-bench", dependencies: ["Compute", "Formats", "Verify", "COpenBLAS"],
            path: "Benchmarks/DecodeBench"),

        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "FormatsTests", dependencies: ["Formats", "TestSupport"]),
        .testTarget(name: "QuantizeTests", dependencies: ["Quantize", "Formats", "TestSupport"]),
        .testTarget(name: "ConvertTests", dependencies: ["Convert", "Verify", "Compute", "Formats", "Quantize", "TestSupport"]),
        .testTarget(name: "VerifyTests", dependencies: ["Verify", "Compute", "Formats", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["Formats", "TestSupport"]),
        .testTarget(name: "ComputeTests", dependencies: ["CKernels", "Compute", "Formats", "TestSupport"]),
        .testTarget(name: "ArchiveTests", dependencies: ["Archive", "CKernels", "CZlib", "Formats", "TestSupport"]),
        .testTarget(
            name: "CatalogTests", dependencies: ["Archive", "Catalog", "Formats", "TestSupport"]),
        // A second process for the catalog's concurrent-writers test (not a product).
        .executableTarget(
            name: "catalog-writer", dependencies: ["Catalog", "Formats"],
            path: "Tests/CatalogWriter"),
    ]
)

for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + nativeCPU
}

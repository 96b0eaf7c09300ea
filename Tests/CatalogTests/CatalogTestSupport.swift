import Catalog
import Foundation
import Formats
import TestSupport
import Testing

/// An in-memory checkpoint: a tensor list and metadata, no data.
struct FakeSource: TensorSource {
    var format: CheckpointFormat
    var metadata: Metadata = [:]
    var tensors: [TensorInfo]

    func bytes(of tensor: TensorInfo) throws(FormatError) -> ByteSlice {
        throw FormatError(.unsupported("fake source has no data"))
    }

    /// A small float checkpoint: `n` F32 elements.
    static func dense(_ format: CheckpointFormat = .safetensors, elements n: Int = 6) -> FakeSource
    {
        FakeSource(
            format: format,
            tensors: [TensorInfo(name: "w", type: .dense(.f32), shape: [n], byteCount: n * 4)])
    }
}

/// A temporary directory with a catalog in it.
struct Sandbox {
    let dir: String
    var catalogPath: String { dir + "/db/catalog.sqlite" }

    init(_ label: String = "catalog") {
        dir = TestPaths.temporaryDirectory(label)
    }

    func open() throws -> Catalog { try Catalog(path: catalogPath) }

    /// Writes `bytes` at `relative` (directories created) and returns the absolute path.
    @discardableResult
    func write(_ relative: String, _ bytes: [UInt8]) throws -> String {
        let p = dir + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    @discardableResult
    func write(_ relative: String, _ text: String) throws -> String {
        try write(relative, Array(text.utf8))
    }
}

/// Test detector: by name, as the command line's fallback does.
let detectByName: FormatDetector = { path in
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return nil }
    if isDir.boolValue {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.contains("config.json") && names.contains { $0.hasSuffix(".safetensors") }
            ? .hf : nil
    }
    switch (path as NSString).pathExtension {
    case "safetensors": return .safetensors
    case "gguf": return .gguf
    case "npz": return .npz
    default: return nil
    }
}

/// Test opener: a fake source of the detected format.
let openFake: CheckpointOpener = { path in
    guard let f = detectByName(path) else {
        throw FormatError(.invalid("not a checkpoint"), file: path)
    }
    return FakeSource.dense(f)
}

/// sha256 by coreutils, the independent oracle for our digests.
func coreutilsSHA256(_ path: String) throws -> String {
    let r = try Process.runCapturing("/usr/bin/sha256sum", [path])
    return String(r.stdout.prefix(64))
}

/// The directory holding the built products (ckpt, catalog-writer).
let productsDirectory: String = {
    let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var dir = exe.deletingLastPathComponent()
    // Linux: .build/debug/ckptPackageTests.xctest; macOS: .../ckptPackageTests.xctest/Contents/MacOS
    while dir.path != "/", !FileManager.default.fileExists(atPath: dir.path + "/ckpt") {
        dir.deleteLastPathComponent()
    }
    return dir.path == "/" ? TestPaths.root + "/.build/debug" : dir.path
}()

/// Runs a built product with the catalog environment cleared.
func runProduct(_ name: String, _ args: [String]) throws -> Python.Result {
    var env = ProcessInfo.processInfo.environment
    env["CKPT_CATALOG"] = nil
    return try Process.runCapturing(productsDirectory + "/" + name, args, environment: env)
}

/// A damaged catalog file for a parameterized test, named by a short label so that the test
/// log shows "4 KiB of zeros", not the 4,096 bytes themselves.
struct CorruptFile: Sendable, CustomTestStringConvertible {
    let label: String
    let bytes: [UInt8]

    init(_ label: String, _ bytes: [UInt8]) {
        self.label = label
        self.bytes = bytes
    }

    var testDescription: String { "\(label) (\(bytes.count) bytes)" }
}

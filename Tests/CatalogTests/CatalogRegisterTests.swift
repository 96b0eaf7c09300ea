import Catalog
import Foundation
#if canImport(Glibc)
    import Glibc
#endif
import Formats
import TestSupport
import Testing

@Suite("Catalog registration")
struct CatalogRegisterTests {
    @Test("a registered checkpoint lists with cli.md's JSON keys, in order")
    func listJSONShape() throws {
        let box = Sandbox()
        let catalog = try box.open()
        try box.write("m/config.json", #"{"model_type": "llama"}"#)
        try box.write("m/model.safetensors", [UInt8](repeating: 7, count: 1000))
        var config = Metadata()
        config["model_type"] = .string("llama")
        let source = FakeSource(
            format: .hf, metadata: config,
            tensors: [TensorInfo(name: "w", type: .dense(.bf16), shape: [10, 25], byteCount: 500)])
        let parent = try catalog.register(path: box.dir + "/m", source: source)
        let child = try catalog.register(
            path: try box.write("c.safetensors", "child"), source: FakeSource.dense(),
            parent: parent.id, operation: "convert --to safetensors")
        try catalog.recordVerification(
            candidate: child.id,
            VerificationRecord(
                againstId: parent.id, tokens: 128, klMean: 0.0012, top1: 0.984, passed: true))

        let json = try #require(try catalog.list().last?.json)
        let keys = try #require(json.objectValue).keys.prefix(13)
        #expect(
            Array(keys) == [
                "id", "path", "format", "architecture", "parameters", "dtype", "quantization",
                "size_bytes", "created_at", "files", "parent_id", "operation", "verifications",
            ])
        #expect(json["parent_id"]?.intValue == parent.id)
        #expect(json["operation"]?.stringValue == "convert --to safetensors")
        let v = try #require(json["verifications"]?.arrayValue?.first)
        #expect(v["against_id"]?.intValue == parent.id)
        #expect(v["kl_mean"]?.doubleValue == 0.0012)
        #expect(v["top1_agreement"]?.doubleValue == 0.984)
        #expect(v["passed"]?.boolValue == true)
        let created = try #require(json["created_at"]?.stringValue)
        #expect(created.count == 20 && created.hasSuffix("Z") && created.dropFirst(10).first == "T")

        let p = try #require(try catalog.list().first?.json)
        #expect(p["path"]?.stringValue == box.dir + "/m")
        #expect(p["format"]?.stringValue == "hf")
        #expect(p["architecture"]?.stringValue == "llama")
        #expect(p["parameters"]?.intValue == 250)
        #expect(p["dtype"]?.stringValue == "BF16")
        #expect(p["quantization"] == .null)
        #expect(p["parent_id"] == .null)
        let files = try #require(p["files"]?.arrayValue)
        #expect(files.map { $0["path"]?.stringValue } == ["config.json", "model.safetensors"])
        #expect(files[1]["size_bytes"]?.intValue == 1000)
        #expect(
            files[1]["sha256"]?.stringValue
                == (try coreutilsSHA256(box.dir + "/m/model.safetensors")))
        #expect(p["size_bytes"]?.intValue == Int64(1000 + 23))
        // The JSON text parses back with the strict parser.
        _ = try JSON.parse(MetadataValue.array(try catalog.list().map(\.json)).jsonString())
    }

    @Test(
        "sha256 matches coreutils across chunk boundaries",
        arguments: [
            0, 1, 64, FileHasher.chunkSize - 1, FileHasher.chunkSize, FileHasher.chunkSize + 3,
        ])
    func digests(size: Int) throws {
        let box = Sandbox()
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        let p = try box.write("f.bin", bytes)
        #expect(try FileHasher.sha256(path: p) == (try coreutilsSHA256(p)))
    }

    @Test("hashing many files at once gives each file its own digest, errors per file")
    func parallelDigests() throws {
        let box = Sandbox()
        var paths: [String] = []
        for i in 0..<9 { paths.append(try box.write("f\(i)", "content \(i)")) }
        paths.append(box.dir + "/does-not-exist")
        paths.append(paths[3])
        let results = FileHasher.sha256(paths: paths)
        #expect(results.count == paths.count)
        for i in 0..<9 { #expect((try? results[i].get()) == (try coreutilsSHA256(paths[i]))) }
        #expect((try? results[9].get()) == nil)
        #expect((try? results[10].get()) == (try? results[3].get()))
    }

    @Test("unchanged path, size and mtime skip the hash; a new mtime re-hashes")
    func hashSkip() throws {
        let box = Sandbox()
        let catalog = try box.open()
        let p = try box.write("m.safetensors", "AAAA")
        let first = try catalog.register(path: p, source: FakeSource.dense())
        var st = stat()
        #expect(stat(p, &st) == 0)
        // Same size, same mtime (to the nanosecond), other bytes: not re-read, so the old
        // digest stays.
        try box.write("m.safetensors", "BBBB")
        var times = [st.st_atim, st.st_mtim]
        #expect(utimensat(AT_FDCWD, p, &times, 0) == 0)
        let second = try catalog.register(path: p, source: FakeSource.dense())
        #expect(second.files[0].sha256 == first.files[0].sha256)
        #expect(second.id == first.id)
        #expect(second.checkpoint.createdAt == first.checkpoint.createdAt)
        // A changed mtime makes it hash again.
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSinceNow: 10)], ofItemAtPath: p)
        let third = try catalog.register(path: p, source: FakeSource.dense())
        #expect(third.files[0].sha256 == (try coreutilsSHA256(p)))
        #expect(third.files[0].sha256 != first.files[0].sha256)
        #expect(try catalog.list().count == 1)
    }

    @Test("lineage after parent, child, grandchild; removing the middle unlinks, keeps files")
    func lineageChain() throws {
        let box = Sandbox()
        let catalog = try box.open()
        let a = try catalog.register(
            path: try box.write("a.safetensors", "a"), source: FakeSource.dense())
        let b = try catalog.register(
            path: try box.write("b.safetensors", "b"), source: FakeSource.dense(), parent: a.id,
            operation: "convert --dtype f16")
        let c = try catalog.register(
            path: try box.write("c.gguf", "c"), source: FakeSource.dense(.gguf), parent: b.id,
            operation: "convert --to gguf --gguf-type Q4_K_M")
        let d = try catalog.register(
            path: try box.write("d.safetensors", "d"), source: FakeSource.dense(), parent: a.id)

        let fromC = try catalog.lineage(id: c.id)
        #expect(fromC.ancestors.map(\.id) == [a.id, b.id])
        #expect(fromC.root.children.isEmpty)
        let fromA = try catalog.lineage(id: a.id)
        #expect(fromA.ancestors.isEmpty)
        #expect(fromA.root.children.map(\.checkpoint.id) == [b.id, d.id])
        #expect(fromA.root.children[0].children.map(\.checkpoint.id) == [c.id])
        #expect(fromC.text.contains("convert --to gguf --gguf-type Q4_K_M"))
        #expect(fromC.text.split(separator: "\n").count == 3)

        #expect(throws: CatalogError.self) { try catalog.setParent(of: a.id, to: c.id) }

        let removal = try catalog.remove(id: b.id)
        #expect(removal.deletedFiles.isEmpty)
        #expect(FileManager.default.fileExists(atPath: box.dir + "/b.safetensors"))
        #expect(try catalog.entry(id: c.id).checkpoint.parentId == nil)
        #expect(throws: CatalogError.self) { try catalog.entry(id: b.id) }
        #expect(try catalog.lineage(id: a.id).root.children.map(\.checkpoint.id) == [d.id])

        let gone = try catalog.remove(id: d.id, deleteFiles: true)
        #expect(gone.deletedFiles == [box.dir + "/d.safetensors"])
        #expect(!FileManager.default.fileExists(atPath: box.dir + "/d.safetensors"))
    }

    @Test("list filters by format, architecture, quantization and path prefix, and sorts")
    func listFilters() throws {
        let box = Sandbox()
        let catalog = try box.open()
        let q = FakeSource(
            format: .gguf,
            metadata: ["general.architecture": .string("llama"), "general.file_type": .uint32(15)],
            tensors: [TensorInfo(name: "w", type: .ggml(.Q4_K), shape: [256], byteCount: 144)])
        try catalog.register(path: try box.write("x/q.gguf", "q"), source: q)
        try catalog.register(
            path: try box.write("y/f.safetensors", "ff"), source: FakeSource.dense())
        #expect(
            try catalog.list(ListFilter(format: "gguf")).map(\.checkpoint.quantization) == [
                "Q4_K_M"
            ])
        #expect(try catalog.list(ListFilter(architecture: "llama")).count == 1)
        #expect(
            try catalog.list(ListFilter(quantized: false)).map(\.checkpoint.format) == [
                "safetensors"
            ])
        #expect(try catalog.list(ListFilter(pathPrefix: box.dir + "/y")).count == 1)
        #expect(
            try catalog.list(ListFilter(sort: .size, descending: true)).map(\.checkpoint.sizeBytes)
                == [2, 1])
        #expect(try catalog.resolve(box.dir + "/x/q.gguf") == catalog.list()[0].id)
        #expect(throws: CatalogError.self) { try catalog.resolve("no/such/path") }
    }
}

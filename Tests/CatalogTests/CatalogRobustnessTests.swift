import Catalog
import Foundation
import Formats
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Catalog robustness")
struct CatalogRobustnessTests {
    /// A valid catalog with a few entries, closed (its WAL checkpointed into the file).
    static func validCatalogBytes() throws -> [UInt8] {
        let box = Sandbox("catalog-valid")
        do {
            let catalog = try box.open()
            var parent: Int64?
            for i in 0..<6 {
                let e = try catalog.register(
                    path: try box.write("m\(i).safetensors", "model \(i)"),
                    source: FakeSource.dense(),
                    parent: parent, operation: "convert \(i)")
                parent = e.id
                try catalog.recordVerification(
                    candidate: e.id,
                    VerificationRecord(againstId: nil, tokens: 8, klMean: 0.1, passed: i % 2 == 0))
            }
        }
        return Array(try Data(contentsOf: URL(fileURLWithPath: box.catalogPath)))
    }

    @Test(
        "a damaged catalog (bytes flipped or cut anywhere) is an error or still reads, never a crash"
    )
    func damagedDatabase() throws {
        let valid = try Self.validCatalogBytes()
        #expect(valid.count >= 4096)
        let box = Sandbox("catalog-damaged")
        var variants: [[UInt8]] = []
        for cut in stride(from: 0, to: valid.count, by: max(1, valid.count / 23)) {
            variants.append(Array(valid[..<cut]))
        }
        for position in stride(from: 0, to: valid.count, by: max(1, valid.count / 61)) {
            var v = valid
            v[position] ^= 0xA5
            variants.append(v)
        }
        var errors = 0
        for (i, bytes) in variants.enumerated() {
            let p = try box.write("v\(i)/catalog.sqlite", bytes)
            do {
                let catalog = try Catalog(path: p)
                for e in try catalog.list() { _ = try catalog.lineage(id: e.id) }
                _ = try catalog.duplicates()
            } catch {
                errors += 1
                #expect(!error.description.isEmpty)
            }
        }
        // Damage in the header or the schema pages must be noticed.
        #expect(errors > 0)
    }

    @Test("a writer killed with SIGKILL leaves only whole entries and a readable catalog")
    func killedWriter() throws {
        let box = Sandbox()
        var files: [String] = []
        // Enough files that even a slow, loaded machine cannot register them all before the kill.
        for i in 0..<3000 { files.append(try box.write("k/m\(i).safetensors", "file \(i)")) }
        let writer = productsDirectory + "/catalog-writer"
        try #require(
            FileManager.default.isExecutableFile(atPath: writer), "build with --build-tests")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: writer)
        p.arguments = [box.catalogPath] + files
        try p.run()
        // Kill it once it has registered something (or after ~5 s), mid-run.
        for _ in 0..<500 {
            if let c = try? Catalog(path: box.catalogPath), let n = try? c.list().count, n > 10 {
                break
            }
            usleep(10_000)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal)
        let entries = try box.open().list()
        #expect(entries.count < files.count)
        #expect(entries.allSatisfy { $0.files.count == 1 && $0.checkpoint.status == .complete })
        // The next writer picks up where it stopped.
        let rest = try box.open()
        for f in files.suffix(3) { try rest.register(path: f, source: FakeSource.dense()) }
        #expect(try rest.list().count >= entries.count + 1)
    }

    @Test("a failed operation is recorded without files, and a later success completes it")
    func failureRecord() throws {
        let box = Sandbox()
        let catalog = try box.open()
        let src = try catalog.register(
            path: try box.write("src.safetensors", "s"), source: FakeSource.dense())
        let out = box.dir + "/out.gguf"
        let failed = try catalog.recordFailure(
            path: out, format: .gguf, parent: src.id, operation: "convert --to gguf")
        #expect(failed.checkpoint.status == .failed)
        #expect(failed.files.isEmpty)
        #expect(failed.json["status"]?.stringValue == "failed")
        try box.write("out.gguf", "done")
        let done = try catalog.register(
            path: out, source: FakeSource.dense(.gguf), parent: src.id,
            operation: "convert --to gguf")
        #expect(done.id == failed.id)
        #expect(done.checkpoint.status == .complete)
        #expect(done.files.count == 1)
        // A later failure does not mark the completed output failed.
        let again = try catalog.recordFailure(
            path: out, format: .gguf, parent: src.id, operation: "x")
        #expect(again.checkpoint.status == .complete)
        #expect(again.checkpoint.operation == "convert --to gguf")
    }
}

import Catalog
import Foundation
import Formats
import TestSupport
import Testing

@Suite("Archives in the catalog")
struct CatalogArchiveTests {
    /// A copy of the tiny Llama fixture directory inside the sandbox.
    func model(_ box: Sandbox) throws -> String {
        let dst = box.dir + "/llama"
        try FileManager.default.copyItem(atPath: TestPaths.fixture("models/llama_gqa"), toPath: dst)
        return dst
    }

    @Test("pack records the archive (format ckz) with its source as parent; unpack checks every file's sha256")
    func packAndUnpack() throws {
        let box = Sandbox("catalog-archive")
        let src = try model(box)
        let archive = box.dir + "/llama.ckz"
        let (summary, entry, warning) = try CatalogedOperations.pack(src, to: archive, level: 3, catalogPath: box.catalogPath)
        #expect(warning == nil)
        let e = try #require(entry)
        #expect(e.checkpoint.format == "ckz")
        #expect(e.files.count == 1 && e.checkpoint.architecture == "llama")
        let catalog = try box.open()
        let parentId = try #require(e.checkpoint.parentId)
        let parent = try catalog.entry(id: parentId)
        #expect(parent.checkpoint.path.hasSuffix("/llama") && parent.files.count == summary.files)

        let out = box.dir + "/restored"
        let (check, w2) = try CatalogedOperations.unpack(archive, to: out, catalogPath: box.catalogPath)
        #expect(w2 == nil)
        #expect(check.verified == parent.files.count && check.sourceEntry?.id == parentId)
        let restored = try #require(try catalog.id(ofPath: out))
        #expect(try catalog.entry(id: restored).checkpoint.parentId == e.id)
    }

    @Test("A restored file whose sha256 differs from the catalog's record is an error and nothing is written")
    func mismatch() throws {
        let box = Sandbox("catalog-archive")
        let src = try model(box)
        let archive = box.dir + "/llama.ckz"
        _ = try CatalogedOperations.pack(src, to: archive, level: 3, catalogPath: box.catalogPath)
        // The source changes after packing and is registered again: the archive no longer
        // restores what the catalog says the source is.
        let config = src + "/config.json"
        var text = try String(contentsOfFile: config, encoding: .utf8)
        text += "\n"
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        try box.open().register(path: src, source: try Checkpoint.open(src))
        let out = box.dir + "/restored"
        #expect {
            try CatalogedOperations.unpack(archive, to: out, catalogPath: box.catalogPath)
        } throws: { error in
            "\(error)".contains("config.json") && "\(error)".contains("differs")
        }
        #expect(!FileManager.default.fileExists(atPath: out))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: box.dir).filter { $0.contains("restored") }
        #expect(leftovers.isEmpty)
        // Without the catalog the archive restores its own bytes.
        _ = try CatalogedOperations.unpack(archive, to: out, catalogPath: nil)
        #expect(FileManager.default.fileExists(atPath: out + "/config.json"))
    }
}

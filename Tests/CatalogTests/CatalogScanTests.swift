import Catalog
import Foundation
import Formats
import TestSupport
import Testing

@Suite("Catalog scan, dupes and check")
struct CatalogScanTests {
    /// A hub cache: models--org--tiny with two snapshots sharing the weights blob, another
    /// repo without org holding a GGUF, plus a plain tree with a model dir and loose files.
    static func makeTree(_ box: Sandbox) throws -> (weightsSHA: String, configSHA: String) {
        let weights = [UInt8](repeating: 3, count: 4096)
        let config = Array(#"{"model_type": "llama"}"#.utf8)
        let wPath = try box.write("hub/models--org--tiny/blobs/wblob", weights)
        let cPath = try box.write("hub/models--org--tiny/blobs/cblob", config)
        try box.write(
            "hub/models--org--tiny/blobs/c2blob", Array(#"{"model_type": "llama", "v": 2}"#.utf8))
        try box.write("hub/models--org--tiny/refs/main", "rev2")
        let fm = FileManager.default
        for (rev, cfg) in [("rev1", "cblob"), ("rev2", "c2blob")] {
            let snap = box.dir + "/hub/models--org--tiny/snapshots/" + rev
            try fm.createDirectory(atPath: snap, withIntermediateDirectories: true)
            try fm.createSymbolicLink(
                atPath: snap + "/model.safetensors", withDestinationPath: "../../blobs/wblob")
            try fm.createSymbolicLink(
                atPath: snap + "/config.json", withDestinationPath: "../../blobs/" + cfg)
        }
        try box.write("hub/models--gpt0/blobs/g", "gguf bytes")
        try fm.createDirectory(
            atPath: box.dir + "/hub/models--gpt0/snapshots/abc", withIntermediateDirectories: true)
        try fm.createSymbolicLink(
            atPath: box.dir + "/hub/models--gpt0/snapshots/abc/m.gguf",
            withDestinationPath: "../../blobs/g")
        try box.write("plain/dir-model/config.json", config)
        try box.write("plain/dir-model/model.safetensors", weights)  // a real copy: a dupe
        try box.write("plain/loose.npz", "npz")
        try box.write("plain/notes.txt", "not a checkpoint")
        return (try coreutilsSHA256(wPath), try coreutilsSHA256(cPath))
    }

    @Test("a hub cache tree gives one entry per snapshot with repo id and revision")
    func scanHubCache() throws {
        let box = Sandbox()
        let (wSHA, cSHA) = try Self.makeTree(box)
        let catalog = try box.open()
        let report = try catalog.scan(
            directory: box.dir + "/hub", open: openFake, detect: detectByName)
        #expect(report.failures.isEmpty)
        let byPath = Dictionary(
            uniqueKeysWithValues: report.registered.map { ($0.checkpoint.path, $0) })
        #expect(byPath.count == 3)
        let rev1 = try #require(byPath[box.dir + "/hub/models--org--tiny/snapshots/rev1"])
        #expect(rev1.checkpoint.repoId == "org/tiny")
        #expect(rev1.checkpoint.revision == "rev1")
        #expect(rev1.checkpoint.format == "hf")
        #expect(rev1.files.map(\.path) == ["config.json", "model.safetensors"])
        #expect(rev1.files.map(\.sha256) == [cSHA, wSHA])
        let rev2 = try #require(byPath[box.dir + "/hub/models--org--tiny/snapshots/rev2"])
        #expect(rev2.checkpoint.revision == "rev2")
        #expect(rev2.files[1].sha256 == wSHA)
        let gguf = try #require(byPath[box.dir + "/hub/models--gpt0/snapshots/abc/m.gguf"])
        #expect(gguf.checkpoint.repoId == "gpt0")
        #expect(gguf.checkpoint.revision == "abc")
        #expect(gguf.checkpoint.sizeBytes == 10)

        // Snapshots sharing one blob are not duplicates: the bytes are on disk once.
        #expect(try catalog.duplicates().isEmpty)
        // A rescan registers the same entries again, not new ones.
        _ = try catalog.scan(directory: box.dir + "/hub", open: openFake, detect: detectByName)
        #expect(try catalog.list().count == 3)
    }

    @Test("a plain tree: model directories and loose files; unreadable ones are reported")
    func scanPlain() throws {
        let box = Sandbox()
        _ = try Self.makeTree(box)
        try box.write("plain/broken.safetensors", "x")
        let catalog = try box.open()
        let failing: CheckpointOpener = { path in
            if path.hasSuffix("broken.safetensors") {
                throw FormatError(
                    .truncated(needed: 8, available: 1), file: path, offset: 0, field: "header_size"
                )
            }
            return try openFake(path)
        }
        let report = try catalog.scan(
            directory: box.dir + "/plain", open: failing, detect: detectByName)
        #expect(
            report.registered.map(\.checkpoint.path) == [
                box.dir + "/plain/dir-model", box.dir + "/plain/loose.npz",
            ])
        #expect(report.failures.map(\.path) == [box.dir + "/plain/broken.safetensors"])
        #expect(report.failures.first?.error.description.contains("header_size") == true)
    }

    @Test("dupes: the same bytes in two places, with the bytes to reclaim")
    func dupes() throws {
        let box = Sandbox()
        let (wSHA, _) = try Self.makeTree(box)
        let catalog = try box.open()
        _ = try catalog.scan(directory: box.dir, open: openFake, detect: detectByName)
        let groups = try catalog.duplicates()
        let w = try #require(groups.first { $0.sha256 == wSHA })
        #expect(w.paths.count == 3)  // two snapshots (one blob) and the plain copy
        #expect(w.distinctFiles == 2)
        #expect(w.reclaimableBytes == 4096)
        #expect(groups.allSatisfy { $0.distinctFiles >= 2 })
    }

    @Test("check reports modified, missing and moved files, and clean ones")
    func check() throws {
        let box = Sandbox()
        let catalog = try box.open()
        try box.write("m/config.json", "{}")
        try box.write("m/a.safetensors", "aaaa")
        try box.write("m/b.safetensors", "bbbb")
        try box.write("m/c.safetensors", "cccc")
        let e = try catalog.register(path: box.dir + "/m", source: FakeSource.dense(.hf))
        let clean = try catalog.register(
            path: try box.write("ok.safetensors", "ok"), source: FakeSource.dense())
        try box.write("m/a.safetensors", "AAAA")  // same size, other bytes
        try FileManager.default.removeItem(atPath: box.dir + "/m/b.safetensors")
        try FileManager.default.moveItem(
            atPath: box.dir + "/m/c.safetensors", toPath: box.dir + "/m/sub-c.safetensors")

        let reports = try catalog.check()
        let r = try #require(reports.first { $0.entry.id == e.id })
        let states = Dictionary(uniqueKeysWithValues: r.files.map { ($0.file.path, $0.state) })
        #expect(states["config.json"] == .ok)
        #expect(
            states["a.safetensors"]
                == .modified(
                    sizeBytes: 4, sha256: try coreutilsSHA256(box.dir + "/m/a.safetensors")))
        #expect(states["b.safetensors"] == .missing)
        #expect(states["c.safetensors"] == .moved(to: "sub-c.safetensors"))
        #expect(!r.isClean)
        #expect(try catalog.check(ids: [clean.id]).allSatisfy(\.isClean))
        // check does not change the record.
        #expect(try catalog.entry(id: e.id).files == e.files)
    }

    @Test("scan, add and register of a path that does not exist say so")
    func missingPaths() throws {
        let box = Sandbox()
        let catalog = try box.open()
        let missing = box.dir + "/nope"
        for action in [
            { _ = try catalog.scan(directory: missing, open: openFake, detect: detectByName) },
            { _ = try catalog.add(path: missing, open: openFake) },
            { _ = try catalog.register(path: missing, source: FakeSource.dense()) },
        ] as [() throws -> Void] {
            let error = #expect(throws: CatalogError.self) { try action() }
            #expect(error?.reason == .io("no such file or directory"))
            #expect(error?.path == missing)
        }
        #expect(try catalog.list().isEmpty)
    }
}

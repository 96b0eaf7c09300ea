@testable import Catalog
import Foundation
import Formats
import TestSupport
import Testing

/// The fast paths behind issue 4's list target: hand-formatted timestamps, positional row
/// decoding and per-entry hash lookups must give what the slow paths gave.
@Suite("Catalog fast paths")
struct CatalogPerformanceTests {
    @Test(
        "timestamps match ISO8601DateFormatter's default output",
        arguments: [
            0, 1, 59, 86_399, 86_400, 951_782_400, 951_868_799, 1_709_164_800, 1_798_675_199,
            1_796_040_000, 4_102_444_800, 253_402_300_799, -1, -86_401, -2_208_988_800,
        ])
    func timestamp(seconds: Int) {
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(identifier: "UTC")
        let expected = f.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        #expect(Catalog.timestamp(secondsSinceEpoch: seconds) == expected)
    }

    @Test("now() has the stored shape and is today's date")
    func nowShape() {
        let s = Catalog.now()
        #expect(s.count == 20)
        #expect(s.hasSuffix("Z"))
        let f = ISO8601DateFormatter()
        let parsed = f.date(from: s)
        #expect(parsed != nil)
        if let parsed { #expect(abs(parsed.timeIntervalSinceNow) < 5) }
    }

    @Test("records decoded by position equal what was inserted, NULLs included")
    func positionalDecoding() throws {
        let box = Sandbox()
        let catalog = try box.open()
        let a = try catalog.register(
            path: try box.write("a.safetensors", "a"), source: FakeSource.dense(),
            operation: "convert --to safetensors",
            origin: CheckpointOrigin(repoId: "org/name", revision: "abc"))
        let b = try catalog.register(
            path: try box.write("b.gguf", "b"), source: FakeSource.dense(.gguf), parent: a.id)
        let v = try catalog.recordVerification(
            candidate: b.id,
            VerificationRecord(
                againstId: a.id, tokens: 16, klMean: 0.25, klMax: nil, top1: 0.5, pplRef: 3,
                pplCand: nil, maxAbsError: 1e-3, passed: true))
        let listed = try catalog.list()
        #expect(listed.map(\.checkpoint) == [a.checkpoint, b.checkpoint])
        #expect(listed.map(\.files) == [a.files, b.files])
        #expect(listed[1].verifications == [v])
        #expect(listed[0].checkpoint.repoId == "org/name")
        #expect(listed[1].checkpoint.parentId == a.id)
        #expect(listed[1].checkpoint.operation == nil)
        #expect(try catalog.entry(id: b.id) == listed[1])
    }

    @Test("a row of the wrong type is a thrown error, not a trap")
    func wrongTypes() throws {
        let box = Sandbox()
        let catalog = try box.open()
        try catalog.register(path: try box.write("a.safetensors", "a"), source: FakeSource.dense())
        // A status outside the enum, written past the CHECK constraint.
        let r = try Process.runCapturing(
            "/usr/bin/sqlite3",
            [
                box.catalogPath,
                "PRAGMA ignore_check_constraints = 1; UPDATE checkpoint SET status = 'odd';",
                "SELECT status FROM checkpoint;",
            ])
        #expect(r.stdout == "odd\n")
        #expect(throws: CatalogError.self) { try catalog.list() }
    }

    @Test("re-registering many entries skips every unchanged file, whatever the catalog's size")
    func knownHashesPerEntry() throws {
        let box = Sandbox()
        let catalog = try box.open()
        var paths: [String] = []
        for i in 0..<30 { paths.append(try box.write("m\(i).safetensors", "model \(i)")) }
        for p in paths { try catalog.register(path: p, source: FakeSource.dense()) }
        let known = try catalog.knownHashes(checkpoints: [paths[3], paths[7], paths[7]])
        #expect(Set(known.keys) == [paths[3], paths[7]])
        #expect(known[paths[3]]?.sha256 == (try coreutilsSHA256(paths[3])))
        // Batches larger than one query's worth of parameters are split.
        let all = try catalog.knownHashes(
            checkpoints: paths + (0..<(Catalog.knownHashesBatch + 10)).map { "/none/\($0)" })
        #expect(all.count == paths.count)
        #expect(try catalog.knownHashes(checkpoints: []).isEmpty)
    }
}

import Foundation
import Testing
import TestSupport

@Suite("ckpt pack / unpack")
struct ArchiveCommandTests {
    @Test("pack then unpack recreates a directory; inspect reads the archive like the checkpoint")
    func packUnpackInspect() throws {
        let source = TestPaths.fixture("archive/hf")
        let dir = TestPaths.temporaryDirectory()
        let archive = dir + "/hf.ckz"
        let p = try CLI.run(["pack", source, archive, "--level", "5", "--json"])
        #expect(p.status == 0, "\(p.stderr)")
        let doc = try #require(try CLI.json(p) as? [String: Any])
        #expect(doc["files"] as? Int == 4)
        let u = try CLI.run(["unpack", archive, dir + "/out"])
        #expect(u.status == 0, "\(u.stderr)")
        for f in ["config.json", "1_Pooling/config.json", "empty.txt", "model.safetensors"] {
            #expect(
                FileManager.default.contentsEqual(
                    atPath: source + "/" + f, andPath: dir + "/out/" + f), "\(f)")
        }
        let a = try CLI.run(["inspect", archive, "--json", "--no-catalog"])
        let b = try CLI.run(["inspect", source, "--json", "--no-catalog"])
        #expect(a.status == 0, "\(a.stderr)")
        let da = try #require(try CLI.json(a) as? [String: Any])
        let db = try #require(try CLI.json(b) as? [String: Any])
        #expect(da["format"] as? String == db["format"] as? String)
        #expect(
            (da["tensors"] as? [[String: Any]])?.count == (db["tensors"] as? [[String: Any]])?.count
        )
        // A second unpack into the now non-empty directory is refused.
        let again = try CLI.run(["unpack", archive, dir + "/out"])
        #expect(again.status == 2)
        #expect(again.stderr.hasPrefix("error:"))
    }

    @Test("a damaged archive: exit 2, an error naming the chunk, nothing written")
    func damaged() throws {
        let dir = TestPaths.temporaryDirectory()
        let archive = dir + "/b.ckz"
        let p = try CLI.run(["pack", TestPaths.fixture("archive/bf16.safetensors"), archive])
        #expect(p.status == 0, "\(p.stderr)")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: archive)))
        bytes[40] ^= 0xFF  // inside the first chunk's payload
        try Data(bytes).write(to: URL(fileURLWithPath: archive))
        let u = try CLI.run(["unpack", archive, dir + "/out.safetensors"])
        #expect(u.status == 2)
        #expect(u.stderr.hasPrefix("error:"), "\(u.stderr)")
        #expect(u.stderr.contains("chunk 0 of 'bf16.safetensors' at offset 0"), "\(u.stderr)")
        #expect(strayFiles(in: dir, expected: ["b.ckz"]).isEmpty)
        // Truncated: refused when opened.
        try Data(bytes[..<(bytes.count - 10)]).write(to: URL(fileURLWithPath: archive))
        let t = try CLI.run(["unpack", archive, dir + "/out.safetensors"])
        #expect(t.status == 2)
        #expect(t.stderr.hasPrefix("error:"))
        #expect(strayFiles(in: dir, expected: ["b.ckz"]).isEmpty)
    }
}

import Foundation
import Testing
import TestSupport

@Suite("ckpt convert --verify")
struct ConvertVerifyCommandTests {
    static let source = TestPaths.fixture("models/llama_gqa")

    @Test("an 8-bit MLX output is verified by default and passes; the numbers are in --json")
    func passes() throws {
        let dir = TestPaths.temporaryDirectory()
        let db = dir + "/catalog.sqlite"
        let r = try CLI.run([
            "convert", Self.source, dir + "/q8", "--to", "mlx", "--bits", "8", "--json",
            "--catalog", db,
        ])
        try #require(r.status == 0, "\(r.stderr)")
        let o = try #require(try CLI.json(r) as? [String: Any])
        let v = try #require(o["verification"] as? [String: Any])
        #expect(v["passed"] as? Bool == true)
        #expect((v["kl_mean"] as? Double ?? 1) < 0.02)
        #expect((v["thresholds"] as? [String: Any])?["max_kl"] as? Double == 0.02)
        let show = try CLI.run(["show", dir + "/q8", "--json", "--catalog", db])
        let e = try #require(try CLI.json(show) as? [String: Any])
        #expect(e["status"] as? String == "complete")
        #expect((e["verifications"] as? [[String: Any]])?.first?["passed"] as? Bool == true)
    }

    @Test("a miss fails the command (exit 1), keeps the output and marks it failed in the catalog")
    func fails() throws {
        // 8-bit g64 on this 64-wide random model measures KL ≈ 0.003: above a 1e-4 limit.
        let dir = TestPaths.temporaryDirectory()
        let db = dir + "/catalog.sqlite"
        let r = try CLI.run([
            "convert", Self.source, dir + "/q8", "--to", "mlx", "--bits", "8", "--verify-max-kl",
            "0.0001",
            "--catalog", db,
        ])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("FAILED: kl_mean"), "\(r.stderr)")
        #expect(r.stderr.contains("> 0.0001"), "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/q8/model.safetensors"))
        let show = try CLI.run(["show", dir + "/q8", "--json", "--catalog", db])
        let e = try #require(try CLI.json(show) as? [String: Any])
        #expect(e["status"] as? String == "failed")
        #expect((e["verifications"] as? [[String: Any]])?.first?["passed"] as? Bool == false)
        #expect(e["parent_id"] is Int)
    }

    @Test("--no-verify skips it; a plain tensor file and an unquantized output are not verified")
    func skipped() throws {
        let dir = TestPaths.temporaryDirectory()
        let cases: [[String]] = [
            [dir + "/a", "--to", "mlx", "--bits", "4", "--no-verify"],
            [dir + "/b.safetensors", "--bits", "4"],
            [dir + "/c", "--to", "hf", "--dtype", "f16"],
        ]
        for args in cases {
            let r = try CLI.run(["convert", Self.source] + args + ["--json", "--no-catalog"])
            #expect(r.status == 0, "\(args): \(r.stderr)")
            let o = try #require(try CLI.json(r) as? [String: Any])
            #expect(o["verification"] is NSNull, "\(args)")
            #expect(o["verification_skipped"] is String, "\(args)")
        }
    }

    @Test("--verify on an unquantized output runs it; on a plain tensor file it is an error")
    func explicit() throws {
        let dir = TestPaths.temporaryDirectory()
        let r = try CLI.run([
            "convert", Self.source, dir + "/f16", "--to", "hf", "--dtype", "f16", "--verify",
            "--json", "--no-catalog",
        ])
        try #require(r.status == 0, "\(r.stderr)")
        let o = try #require(try CLI.json(r) as? [String: Any])
        #expect((o["verification"] as? [String: Any])?["top1_agreement"] as? Double == 1)
        let bad = try CLI.run([
            "convert", Self.source, dir + "/x.safetensors", "--verify", "--no-catalog",
        ])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--verify"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.safetensors"))
    }
}

import Foundation
import Testing
import TestSupport

@Suite("ckpt verify")
struct VerifyCommandTests {
    static let models = TestPaths.fixture("models")
    static let ids = "1,5,17,100,42,99,3,127,64,8"

    @Test("--json: cli.md's keys, a model against itself passes with KL 0 and top-1 1")
    func identical() throws {
        let m = Self.models + "/llama_gqa"
        let r = try CLI.run([
            "verify", m, m, "--tokens", Self.ids, "--json", "--max-kl", "0", "--min-top1", "1",
            "--no-catalog",
        ])
        try #require(r.status == 0, "\(r.stderr)")
        let o = try #require(try CLI.json(r) as? [String: Any])
        for key in [
            "tokens", "max_abs_error", "mean_abs_error", "cosine_min", "kl_mean", "kl_max",
            "top1_agreement", "ppl_ref", "ppl_cand", "passed",
        ] {
            #expect(o[key] != nil, "missing \(key)")
        }
        #expect(o["tokens"] as? Int == 10)
        #expect(o["kl_mean"] as? Double == 0)
        #expect(o["top1_agreement"] as? Double == 1)
        #expect(o["passed"] as? Bool == true)
        #expect((o["ppl_ref"] as? Double ?? 0) > 1)
    }

    @Test("a missed threshold exits 1 and says which; the table is the default output")
    func thresholdFails() throws {
        let r = try CLI.run([
            "verify", Self.models + "/llama_gqa", Self.models + "/llama_gqa_mlx", "--tokens",
            Self.ids,
            "--max-kl", "0.001", "--no-catalog",
        ])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stdout.contains("kl_mean"))
        #expect(r.stdout.contains("FAILED: kl_mean"))
        let ok = try CLI.run([
            "verify", Self.models + "/llama_gqa", Self.models + "/llama_gqa_mlx", "--tokens",
            Self.ids,
            "--max-kl", "10", "--no-catalog", "--json",
        ])
        #expect(ok.status == 0, "\(ok.stderr)")
        let o = try #require(try CLI.json(ok) as? [String: Any])
        #expect((o["kl_mean"] as? Double ?? 0) > 0.001)
    }

    @Test(
        "errors exit 2 with a message; bad usage exits 64",
        arguments: [
            (["--tokens", "1,2,300"], 2, "outside the vocabulary"),
            (["--tokens", "1,x"], 2, "--tokens"),
            (["--text", "/nonexistent/probe.txt"], 2, "probe.txt"),
            (["--tokens", "1", "--text", "/tmp/x"], 64, ""),
            (["--tokenizer", "--max-kl", "1"], 64, ""),
        ])
    func errors(arguments: [String], status: Int32, message: String) throws {
        let m = Self.models + "/llama_gqa"
        let r = try CLI.run(["verify", m, m, "--no-catalog"] + arguments)
        #expect(r.status == status, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("error:"), "\(r.stderr)")
        #expect(message.isEmpty || r.stderr.contains(message), "\(r.stderr)")
    }

    @Test("a GGUF without a vocabulary and a model without a tokenizer: --text is refused")
    func noTokenizer() throws {
        let dir = TestPaths.temporaryDirectory()
        try "hello".write(toFile: dir + "/t.txt", atomically: true, encoding: .utf8)
        let r = try CLI.run([
            "verify", Self.models + "/llama_gqa", Self.models + "/llama_gqa.gguf", "--text",
            dir + "/t.txt",
            "--no-catalog",
        ])
        #expect(r.status == 2)
        #expect(r.stderr.contains("tokenizer"), "\(r.stderr)")
    }

    @Test("the result is recorded on the candidate; ckpt show lists it")
    func catalog() throws {
        let dir = TestPaths.temporaryDirectory()
        let db = dir + "/catalog.sqlite"
        let cand = Self.models + "/llama_gqa_mlx"
        let r = try CLI.run([
            "verify", Self.models + "/llama_gqa", cand, "--tokens", Self.ids, "--min-top1", "0.99",
            "--catalog", db,
        ])
        #expect(r.status == 1)
        let show = try CLI.run(["show", cand, "--json", "--catalog", db])
        try #require(show.status == 0, "\(show.stderr)")
        let o = try #require(try CLI.json(show) as? [String: Any])
        let v = try #require((o["verifications"] as? [[String: Any]])?.first)
        #expect(v["passed"] as? Bool == false)
        #expect(v["tokens"] as? Int == 10)
        #expect((v["kl_mean"] as? Double ?? 0) > 0)
        #expect(v["against_id"] is Int)
        let text = try CLI.run(["show", cand, "--catalog", db])
        #expect(text.stdout.contains("FAILED kl_mean"), "\(text.stdout)")
    }

    @Test("--tokenizer: a changed merge is found, reported with the text, and exits 1")
    func tokenizerMismatch() throws {
        let dir = TestPaths.temporaryDirectory()
        let original = TestPaths.fixture("tokenizers/gpt2_bpe.json")
        let src = try String(contentsOfFile: original, encoding: .utf8)
        // Drop the merge "h e" (the second one): "the", "he", ... tokenize differently.
        let changed = src.replacingOccurrences(of: "[\"h\",\"e\"],", with: "")
        try #require(changed != src, "merge not found in the fixture's layout")
        try changed.write(toFile: dir + "/changed.json", atomically: true, encoding: .utf8)
        let same = try CLI.run(["verify", "--tokenizer", original, original, "--json"])
        #expect(same.status == 0, "\(same.stderr)")
        let s = try #require(try CLI.json(same) as? [String: Any])
        #expect(s["passed"] as? Bool == true && s["first_mismatch"] is NSNull)
        let r = try CLI.run(["verify", "--tokenizer", original, dir + "/changed.json", "--json"])
        #expect(r.status == 1, "\(r.stderr)")
        let o = try #require(try CLI.json(r) as? [String: Any])
        #expect(o["passed"] as? Bool == false)
        let m = try #require(o["first_mismatch"] as? [String: Any])
        #expect((m["text"] as? String)?.isEmpty == false)
        #expect((m["reference"] as? [Int]) != (m["candidate"] as? [Int]))
        let table = try CLI.run(["verify", "--tokenizer", original, dir + "/changed.json"])
        #expect(table.status == 1)
        #expect(table.stdout.contains("first mismatch"))
    }

    @Test(
        "a GGUF's embedded vocabulary agrees with itself, and the GGUF model with itself",
        .enabled(if: TestPaths.model("smollm2-135m-instruct-q4_1.gguf") != nil))
    func gguf() throws {
        let g = try #require(TestPaths.model("smollm2-135m-instruct-q4_1.gguf"))
        let t = try CLI.run(["verify", "--tokenizer", g, g])
        #expect(t.status == 0, "\(t.stderr)")
        // A few ids: a debug build runs SmolLM2 at a few tokens per second on a loaded machine
        // (the default probe text is covered by VerificationTests).
        let r = try CLI.run([
            "verify", g, g, "--json", "--no-catalog", "--max-kl", "0", "--tokens", "1,2,3,4",
        ])
        try #require(r.status == 0, "\(r.stderr)")
        let o = try #require(try CLI.json(r) as? [String: Any])
        #expect(o["tokens"] as? Int == 4 && o["kl_mean"] as? Double == 0)
    }
}

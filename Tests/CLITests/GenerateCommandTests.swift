import Foundation
import Testing
import TestSupport

@Suite("ckpt generate")
struct GenerateCommandTests {
    static let models = TestPaths.fixture("models")

    @Test(
        "--json prints the ids (the first is the argmax of torch's last-row logits) and speeds",
        .enabled(if: Python.available))
    func json() throws {
        let tokens = try Python.run(
            """
            import sys, numpy as np
            t = np.load(sys.argv[1]); l = np.load(sys.argv[2])
            print(",".join(str(int(i)) for i in t)); print(int(l[-1].argmax()))
            """, [Self.models + "/tokens.npy", Self.models + "/llama_gqa.logits.npy"])
        try #require(tokens.status == 0, "\(tokens.stderr)")
        let lines = tokens.stdout.split(separator: "\n").map(String.init)
        let r = try CLI.run([
            "generate", Self.models + "/llama_gqa", "--tokens", lines[0], "--max-tokens", "6",
            "--json",
        ])
        try #require(r.status == 0, "\(r.stderr)")
        let doc = try #require(try CLI.json(r) as? [String: Any])
        let ids = try #require(doc["ids"] as? [Int])
        #expect(ids.count == 6)
        #expect(ids.first == Int(lines[1]))
        #expect(doc["text"] is NSNull)  // the fixture has no tokenizer
        #expect((doc["prefill_tokens_per_second"] as? Double ?? 0) > 0)
        #expect((doc["decode_tokens_per_second"] as? Double ?? 0) > 0)
    }

    @Test(
        "SmolLM2: greedy ids equal transformers', and --prompt prints decoded text",
        .enabled(if: TestPaths.model("smollm2-135m-instruct-q4_1.gguf") != nil))
    func smollm2() throws {
        let model = try #require(TestPaths.model("smollm2-135m-instruct-q4_1.gguf"))
        // smollm2_reference.json (transformers on the dequantized weights).
        let r = try CLI.run([
            "generate", model, "--tokens", "504,3575,282,4649,314", "--max-tokens", "6", "--json",
        ])
        try #require(r.status == 0, "\(r.stderr)")
        let doc = try #require(try CLI.json(r) as? [String: Any])
        let data = try Data(
            contentsOf: URL(fileURLWithPath: TestPaths.fixture("models/smollm2_reference.json")))
        let ref = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let greedy = try #require(ref["greedy"] as? [Int])
        #expect(doc["ids"] as? [Int] == greedy)
        #expect(!(doc["text"] as? String ?? "").isEmpty)
        let t = try CLI.run([
            "generate", model, "--prompt", "The capital of France is", "--max-tokens", "4",
        ])
        try #require(t.status == 0, "\(t.stderr)")
        #expect(!t.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        #expect(t.stderr.contains("tokens/s"))
    }

    @Test(
        "usage and errors",
        arguments: [
            (["--max-tokens", "2"], 64, "exactly one"),
            (["--tokens", "1", "--prompt", "x"], 64, "exactly one"),
            (["--tokens", "1,2,128"], 2, "outside the vocabulary"),
        ])
    func errors(arguments: [String], status: Int32, message: String) throws {
        let r = try CLI.run(["generate", Self.models + "/llama_gqa"] + arguments)
        #expect(r.status == status, "\(r.stderr)")
        #expect(r.stderr.contains(message), "\(r.stderr)")
    }
}

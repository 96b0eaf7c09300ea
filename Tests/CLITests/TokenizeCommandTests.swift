import Foundation
import Testing
import TestSupport

@Suite("ckpt tokenize")
struct TokenizeCommandTests {
    static let texts = ["Hello, world! It's 2026.", "  tabs\tand\nnewlines  ", "naïve café 你好 🙂", "x = f(3) + 4_000"]

    @Test("ids equal the tokenizers library's, with and without special tokens",
          .enabled(if: Python.has("tokenizers") && TestPaths.model("all-minilm-l6-v2") != nil),
          arguments: [false, true])
    func minilm(special: Bool) throws {
        let model = try #require(TestPaths.model("all-minilm-l6-v2"))
        for text in Self.texts {
            var args = ["tokenize", model, "--text", text, "--json"]
            if special { args.append("--add-special-tokens") }
            let r = try CLI.run(args)
            try #require(r.status == 0, "\(r.stderr)")
            let ours = try #require((try CLI.json(r) as? [String: Any])?["ids"] as? [Int])
            let py = try Python.run("""
                import sys, json
                from tokenizers import Tokenizer
                t = Tokenizer.from_file(sys.argv[1] + "/tokenizer.json")
                t.no_truncation(); t.no_padding()
                print(json.dumps(t.encode(sys.argv[2], add_special_tokens=sys.argv[3] == "1").ids))
                """, [model, text, special ? "1" : "0"])
            try #require(py.status == 0, "\(py.stderr)")
            let theirs = try JSONSerialization.jsonObject(with: Data(py.stdout.utf8)) as? [Int]
            #expect(ours == theirs, "\(text)")
        }
    }

    @Test("a GGUF's embedded vocabulary tokenizes; --text-file reads a file",
          .enabled(if: TestPaths.model("smollm2-135m-instruct-q4_1.gguf") != nil))
    func gguf() throws {
        let model = try #require(TestPaths.model("smollm2-135m-instruct-q4_1.gguf"))
        let dir = TestPaths.temporaryDirectory()
        try "Hello world".write(toFile: dir + "/t.txt", atomically: true, encoding: .utf8)
        let a = try CLI.run(["tokenize", model, "--text", "Hello world", "--json"])
        let b = try CLI.run(["tokenize", model, "--text-file", dir + "/t.txt", "--json"])
        try #require(a.status == 0, "\(a.stderr)")
        #expect(a.stdout == b.stdout)
        let ids = try #require((try CLI.json(a) as? [String: Any])?["ids"] as? [Int])
        // SmolLM2's vocabulary: "Hello" = 19556, " world" = 905.
        #expect(ids == [19556, 905])
    }

    @Test("exactly one of --text and --text-file")
    func usage() throws {
        let r = try CLI.run(["tokenize", "x.gguf"])
        #expect(r.status == 64)
    }
}

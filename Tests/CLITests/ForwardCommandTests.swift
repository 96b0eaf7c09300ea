import Foundation
import Testing
import TestSupport

@Suite("ckpt forward")
struct ForwardCommandTests {
    static let models = TestPaths.fixture("models")

    @Test(
        "writes [len(ids), vocab] F32 logits numpy reads, equal to torch's",
        .enabled(if: Python.available))
    func logits() throws {
        let dir = TestPaths.temporaryDirectory()
        let out = dir + "/logits.npy"
        let r = try CLI.run([
            "forward", Self.models + "/llama_gqa", "--tokens", "1,5,17,100,42,99,3,127,64,8",
            "--output", out,
        ])
        try #require(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        let py = try Python.run(
            """
            import sys, numpy as np
            a = np.load(sys.argv[1]); b = np.load(sys.argv[2])
            assert a.dtype == np.dtype('<f4') and a.shape == (10, 128), (a.dtype, a.shape)
            print(float(np.abs(a - b).max() / np.abs(b).max()))
            """, [out, Self.models + "/llama_gqa.logits.npy"])
        try #require(py.status == 0, "\(py.stderr)")
        let err = try #require(Double(py.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(err < 1e-4)
        #expect(strayFiles(in: dir, expected: ["logits.npy"]).isEmpty)
    }

    @Test(
        "errors name the problem, exit non-zero and leave no output",
        arguments: [
            (["--tokens", "1,2,128"], "outside the vocabulary"),
            (["--tokens", "1,,2"], "--tokens"),
        ])
    func errors(arguments: [String], message: String) throws {
        let dir = TestPaths.temporaryDirectory()
        let r = try CLI.run(
            ["forward", Self.models + "/llama_gqa"] + arguments + ["--output", dir + "/o.npy"])
        #expect(r.status != 0)
        #expect(r.stderr.hasPrefix("error:"))
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(strayFiles(in: dir, expected: []).isEmpty)
    }

    @Test(
        "a GGUF runs, and --text tokenizes with the model's tokenizer",
        .enabled(if: TestPaths.model("smollm2-135m-instruct-q4_1.gguf") != nil))
    func text() throws {
        let model = try #require(TestPaths.model("smollm2-135m-instruct-q4_1.gguf"))
        let dir = TestPaths.temporaryDirectory()
        let a = try CLI.run(["forward", model, "--text", "Hello world", "--output", dir + "/a.npy"])
        try #require(a.status == 0, "\(a.stderr)")
        // "Hello world" is 2 tokens in SmolLM2's vocabulary (19556, 905): [2, 49152] F32.
        let x = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.npy"))
        #expect(x.count == 128 + 2 * 49152 * 4)
        #expect(a.stderr.contains("[2, 49152]"))
    }

    @Test("exactly one of --tokens and --text")
    func usage() throws {
        let r = try CLI.run(["forward", Self.models + "/llama_gqa", "--output", "/tmp/x.npy"])
        #expect(r.status == 64)
    }
}

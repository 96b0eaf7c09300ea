import Foundation
import Testing
import TestSupport

@testable import Verify

/// Issue 6: `verify` on SmolLM2 quantized by mlx-lm itself (4-bit, 8-bit) against the
/// full-precision model agrees with the same statistics computed in Python from mlx-lm's
/// logits, within 2%.
@Suite("SmolLM2 quantized by mlx-lm")
struct SmolLM2MLXVerifyTests {
    static let gguf = TestPaths.model("smollm2-135m-instruct-q4_1.gguf")

    @Test(
        "our KL and top-1 agree with mlx-lm's within 2% at 4 and 8 bits",
        .enabled(if: gguf != nil && Python.has("mlx_lm")))
    func parity() throws {
        let gguf = try #require(Self.gguf)
        // 53 ids of English text: enough positions for a stable mean, few enough for a
        // debug build.
        let tokenizer = try Tokenizers.load(model: gguf)
        let text = String(Verification.probeText.prefix(220))
        let ids = tokenizer.encode(text, addSpecialTokens: false).map { Int32($0) }
        try #require(ids.count >= 40)
        let dir = TestPaths.temporaryDirectory("smollm2-mlx")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The full-precision model: ckpt's own GGUF → HF converter (names, Q/K permutation,
        // config.json, tokenizer.json), which mlx-lm loads and quantizes as it is.
        let hf = dir + "/hf"
        let made = try Process.runCapturing(
            TestPaths.root + "/.build/debug/ckpt",
            ["convert", gguf, hf, "--to", "hf", "--no-catalog"])
        try #require(made.status == 0, "\(made.stderr)")
        let py = try Python.run(
            try String(contentsOfFile: TestPaths.fixture("smollm2_mlx_verify.py"), encoding: .utf8),
            [gguf, dir + "/out", ids.map(String.init).joined(separator: ","), hf])
        try #require(py.status == 0, "\(py.stderr)")
        let line = py.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let oracle = try #require(
            JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: [String: Double]])
        for bits in ["4", "8"] {
            let o = try #require(oracle[bits])
            let r = try Verification.run(
                reference: hf, candidate: dir + "/out/mlx\(bits)", input: .tokens(ids))
            let s = r.statistics
            let kl = try #require(s.klMean)
            let top1 = try #require(s.top1Agreement)
            let pyKL = try #require(o["kl_mean"])
            let pyTop1 = try #require(o["top1_agreement"])
            #expect(abs(kl - pyKL) <= 0.02 * pyKL, "\(bits)-bit KL \(kl) vs mlx-lm \(pyKL)")
            #expect(abs(top1 - pyTop1) <= 0.02 * pyTop1, "\(bits)-bit top-1 \(top1) vs \(pyTop1)")
            // The defaults of convert --verify accept what mlx-lm itself produces.
            let limits = VerificationThresholds.conversionDefaults(bits: Int(bits) ?? 0)
            #expect(limits.failures(s).isEmpty, "\(bits)-bit: \(limits.failures(s))")
        }
    }
}

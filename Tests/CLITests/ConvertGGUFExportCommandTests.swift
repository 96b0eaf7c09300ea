import Foundation
import Testing
import TestSupport

/// `ckpt convert HF_DIR out.gguf`: the command end to end (exit status, JSON report, the file
/// llama.cpp reads).
@Suite("ckpt convert HF → GGUF")
struct ConvertGGUFExportCommandTests {
    @Test("an HF directory becomes a GGUF; the JSON report names the source format and actions")
    func hfDirectory() throws {
        let out = TestPaths.temporaryDirectory() + "/smollm.gguf"
        let r = try CLI.run([
            "convert", TestPaths.fixture("gguf_export/smollm"), out, "--gguf-type", "Q8_0",
            "--json",
            "--no-catalog",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(#""source_format": "hf""#))
        #expect(r.stdout.contains(#""name": "blk.0.attn_q.weight""#))
        #expect(FileManager.default.fileExists(atPath: out))
    }

    @Test("an MLX directory reports which weights were transcoded exactly")
    func mlxDirectory() throws {
        let out = TestPaths.temporaryDirectory() + "/llama.gguf"
        let r = try CLI.run([
            "convert", TestPaths.fixture("gguf_export/llama_mlx"), out, "--gguf-type", "Q4_1",
            "--no-catalog",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("transcoded exactly into Q4_1 (no re-quantization)"))
        #expect(r.stderr.contains("dequantized from affine 8-bit g32"))
    }

    @Test("a tokenizer that llama.cpp would split differently fails with exit status 2")
    func parityFailure() throws {
        let dir = TestPaths.temporaryDirectory() + "/smollm"
        try FileManager.default.copyItem(
            atPath: TestPaths.fixture("gguf_export/smollm"), toPath: dir)
        let config = dir + "/tokenizer_config.json"
        let text = try String(contentsOfFile: config, encoding: .utf8)
            .replacingOccurrences(of: #""add_bos_token": false"#, with: #""add_bos_token": true"#)
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        let r = try CLI.run(["convert", dir, dir + ".gguf", "--no-catalog"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("tokenizer parity check failed"))
        #expect(!FileManager.default.fileExists(atPath: dir + ".gguf"))
    }
}

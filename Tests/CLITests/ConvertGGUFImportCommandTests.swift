import Foundation
import TestSupport
import Testing

/// `ckpt convert MODEL.gguf DIR --to hf|mlx` for a LLaMA-family GGUF, run as a user runs it.
@Suite("ckpt convert GGUF → HF / MLX")
struct ConvertGGUFImportCommandTests {
    @Test("--to hf writes transformers' names and config; the report names what was left out")
    func huggingFace() throws {
        let dir = TestPaths.temporaryDirectory("cli-gguf-import")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/m"
        let r = try CLI.run([
            "convert", TestPaths.fixture("models/llama_gqa.gguf"), out, "--to", "hf", "--json",
            "--no-catalog",
        ])
        try #require(r.status == 0, "\(r.stderr)")
        let report = try #require(try CLI.json(r) as? [String: Any])
        let tensors = try #require(report["tensors"] as? [[String: Any]])
        let names = Set(tensors.compactMap { $0["name"] as? String })
        #expect(names.contains("model.layers.1.self_attn.k_proj.weight"))
        #expect(names.contains("lm_head.weight"))
        #expect(!names.contains { $0.hasPrefix("blk.") })
        let notes = try #require(report["notes"] as? [String: String])
        #expect(notes["tokenizer.json"]?.hasPrefix("not written") == true)
        let files = Set((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? [])
        #expect(files == ["config.json", "generation_config.json", "model.safetensors"])
        let config =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: out + "/config.json")))
            as? [String: Any]
        #expect(config?["model_type"] as? String == "llama")
        #expect(config?["num_key_value_heads"] as? Int == 2)
        #expect(strayFiles(in: dir, expected: ["m"]).isEmpty)
    }

    @Test("--to mlx says the Q8_0 blocks were transcoded exactly")
    func mlx() throws {
        let dir = TestPaths.temporaryDirectory("cli-gguf-import-mlx")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try CLI.run([
            "convert", TestPaths.fixture("models/llama_gqa.gguf"), dir + "/m", "--to", "mlx",
            "--no-catalog",
        ])
        try #require(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("15 transcode Q8_0 → affine 8-bit g32"))
        #expect(r.stderr.contains("15 transcoded exactly"))
    }
}

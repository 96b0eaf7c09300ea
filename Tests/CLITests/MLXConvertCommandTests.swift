import Foundation
import Testing
import TestSupport

/// `ckpt convert` to and from MLX against the real mlx-lm and mlx (the oracle script
/// Tests/fixtures/make_mlx_convert.py): what `mlx_lm.convert` writes, `mx.dequantize`,
/// convolution layouts with mlx.nn, and `--dry-run`.
@Suite("ckpt convert and MLX", .enabled(if: Python.available && Python.has("mlx_lm")))
struct MLXConvertCommandTests {
    static let script = TestPaths.fixture("make_mlx_convert.py")

    /// Runs a subcommand of the oracle script.
    func oracle(_ arguments: [String]) throws -> Python.Result {
        try Python.run(
            "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
            [Self.script] + arguments)
    }

    func ckpt(_ arguments: [String]) throws -> Python.Result {
        // Random-init tiny models miss the 4-bit verification defaults; these tests compare bytes.
        let r = try CLI.run(["convert"] + arguments + ["--no-verify"])
        #expect(r.status == 0, "ckpt convert \(arguments): \(r.stderr)")
        return r
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var model: String
        var options: [String]
        var testDescription: String { "\(model) \(options.joined(separator: " "))" }
        /// The same options for the oracle (`--recipe` for `--mlx-recipe`).
        var oracleOptions: [String] { options.map { $0 == "--mlx-recipe" ? "--recipe" : $0 } }
    }

    static let cases: [Case] = ["llama_gqa", "mistral", "qwen2"].flatMap { m in
        [
            [], ["--bits", "4"], ["--bits", "8", "--group-size", "32"],
            ["--bits", "3", "--group-size", "128"],
            ["--bits", "2", "--mlx-recipe", "mixed_2_6"],
            ["--bits", "4", "--group-size", "32", "--mlx-recipe", "mixed_3_6"],
        ].map { Case(model: m, options: $0) }
    }

    @Test(
        "--to mlx writes mlx_lm.convert's tensors (bytes), names, shards, index and config; mlx_lm.load gives its logits",
        arguments: cases)
    func matchesMLXLM(_ c: Case) throws {
        let dir = TestPaths.temporaryDirectory()
        let src = TestPaths.fixture("models/" + c.model)
        _ = try ckpt([src, dir + "/ours", "--to", "mlx"] + c.options)
        let ref = try oracle(["convert", src, dir + "/ref"] + c.oracleOptions)
        try #require(ref.status == 0, "\(ref.stderr)")
        let check = try oracle(["check", dir + "/ref", dir + "/ours"])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("ok"))
    }

    @Test(
        "a pytorch_model.bin source with tied embeddings converts as mlx_lm.convert does its safetensors copy (no lm_head)"
    )
    func tiedTorchSource() throws {
        let dir = TestPaths.temporaryDirectory()
        let src = TestPaths.fixture("models/llama_tied")
        _ = try ckpt([src, dir + "/hf", "--to", "hf"])  // mlx-lm reads safetensors only
        let ref = try oracle(["convert", dir + "/hf", dir + "/ref", "--bits", "4"])
        try #require(ref.status == 0, "\(ref.stderr)")
        _ = try ckpt([src, dir + "/ours", "--to", "mlx", "--bits", "4"])
        let check = try oracle(["check", dir + "/ref", dir + "/ours"])
        #expect(check.status == 0, "\(check.stderr)")
        let index = try String(
            contentsOfFile: dir + "/ours/model.safetensors.index.json", encoding: .utf8)
        #expect(!index.contains("lm_head"))
    }

    @Test(
        "torch_dtype casts as mlx_lm.convert does; generation_config's eos_token_id goes into config; side files are copied unchanged",
        arguments: [[], ["--bits", "4"]])
    func dtypeAndSideFiles(_ options: [String]) throws {
        let dir = TestPaths.temporaryDirectory()
        let src = dir + "/src"
        try FileManager.default.createDirectory(atPath: src, withIntermediateDirectories: true)
        let fixture = TestPaths.fixture("models/llama_gqa")
        try FileManager.default.copyItem(
            atPath: fixture + "/model.safetensors", toPath: src + "/model.safetensors")
        let prepare = try Python.run(
            """
            import json, sys
            fixture, src = sys.argv[1], sys.argv[2]
            c = json.load(open(fixture + "/config.json"))
            c["torch_dtype"] = "bfloat16"
            c["_name_or_path"] = "somewhere/else"
            json.dump(c, open(src + "/config.json", "w"), indent=2)
            json.dump({"bos_token_id": 1, "eos_token_id": [2, 7]}, open(src + "/generation_config.json", "w"))
            json.dump({"chat_template": "{{ messages }}", "added_tokens_decoder": {}},
                      open(src + "/tokenizer_config.json", "w"))
            open(src + "/chat_template.jinja", "w").write("{% for m in messages %}{{ m }}{% endfor %}")
            """, [fixture, src])
        try #require(prepare.status == 0, "\(prepare.stderr)")
        _ = try ckpt([src, dir + "/ours", "--to", "mlx"] + options)
        let ref = try oracle(["convert", src, dir + "/ref"] + options)
        try #require(ref.status == 0, "\(ref.stderr)")
        let check = try oracle(["check", dir + "/ref", dir + "/ours"])
        #expect(check.status == 0, "\(check.stderr)")
        for name in ["generation_config.json", "tokenizer_config.json", "chat_template.jinja"] {
            let a = FileManager.default.contents(atPath: src + "/" + name)
            #expect(
                a != nil && a == FileManager.default.contents(atPath: dir + "/ours/" + name),
                "\(name)")
        }
        let config = try String(contentsOfFile: dir + "/ours/config.json", encoding: .utf8)
        #expect(!config.contains("_name_or_path"))
        #expect(config.contains("\"torch_dtype\": \"bfloat16\""))
    }

    @Test("a transformers-5 config (rope_parameters) gets rope_theta at the top level for mlx-lm")
    func ropeTopLevel() throws {
        let dir = TestPaths.temporaryDirectory()
        _ = try ckpt([TestPaths.fixture("models/qwen2"), dir + "/ours", "--to", "mlx"])
        let r = try Python.run(
            """
            import json, sys
            c = json.load(open(sys.argv[1] + "/config.json"))
            assert c["rope_theta"] == 1000000.0, c.get("rope_theta")
            assert c["rope_parameters"]["rope_theta"] == 1000000.0
            assert "rope_scaling" not in c, c.get("rope_scaling")
            print("ok")
            """, [dir + "/ours"])
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test(
        "MLX → HF dequantizes each affine triple bit for bit as mx.dequantize, per-layer bits included",
        arguments: [[], ["--dtype", "bf16"], ["--dtype", "f16"]])
    func mlxToHF(_ options: [String]) throws {
        let dir = TestPaths.temporaryDirectory()
        let fixture = TestPaths.fixture("models/llama_gqa_mlx")
        _ = try ckpt([fixture, dir + "/a", "--to", "hf"] + options)
        var r = try oracle(["dequant", fixture, dir + "/a"])
        #expect(r.status == 0, "\(r.stderr)")
        // A recipe with BF16 scales and 3- and 6-bit layers.
        _ = try ckpt([
            TestPaths.fixture("models/qwen2"), dir + "/q", "--to", "mlx", "--bits", "4",
            "--mlx-recipe", "mixed_3_6",
        ])
        _ = try ckpt([dir + "/q", dir + "/b", "--to", "hf"] + options)
        r = try oracle(["dequant", dir + "/q", dir + "/b"])
        #expect(r.status == 0, "\(r.stderr)")
        let index = try String(contentsOfFile: dir + "/b/model.safetensors", encoding: .isoLatin1)
        #expect(!index.contains(".scales") && !index.contains(".biases"))
    }

    @Test(
        "convolution weights move to (out, k..., in): mlx.nn Conv1d/Conv2d/Linear on our MLX output give torch's outputs",
        arguments: ["convnet.bin", "convnet.safetensors"])
    func convolutions(_ file: String) throws {
        let dir = TestPaths.temporaryDirectory()
        let fixtures = TestPaths.fixture("convnet")
        _ = try ckpt([fixtures + "/" + file, dir + "/mlx", "--to", "mlx"])
        let r = try oracle(["conv", dir + "/mlx", fixtures])
        #expect(r.status == 0, "\(r.stderr)")
        // And back: MLX layout (safetensors metadata format=mlx) to PyTorch gives the source.
        _ = try ckpt([
            dir + "/mlx/model.safetensors", dir + "/back.safetensors", "--layout", "pytorch",
        ])
        let back = try Python.run(
            """
            import sys, numpy as np
            from safetensors.numpy import load_file
            a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
            assert set(a) == set(b), (set(a), set(b))
            for k in a:
                assert a[k].shape == b[k].shape and np.array_equal(a[k], b[k]), k
            print("ok")
            """, [fixtures + "/convnet.safetensors", dir + "/back.safetensors"])
        #expect(back.status == 0, "\(back.stderr)")
    }

    @Test(
        "--dry-run prints every tensor and the totals and writes nothing", arguments: [false, true])
    func dryRun(json: Bool) throws {
        let dir = TestPaths.temporaryDirectory()
        let src = TestPaths.fixture("models/qwen2")
        var args = [src, dir + "/out", "--to", "mlx", "--bits", "4", "--dry-run"]
        if json { args.append("--json") }
        let r = try ckpt(args)
        #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
        #expect(strayFiles(in: dir, expected: []).isEmpty)
        if json {
            let doc = try #require(try CLI.json(r) as? [String: Any])
            let tensors = try #require(doc["tensors"] as? [[String: Any]])
            #expect(tensors.count == 27)
            let q = try #require(
                tensors.first {
                    $0["source"] as? String == "model.layers.0.self_attn.q_proj.weight"
                })
            let outputs = try #require(q["outputs"] as? [[String: Any]])
            #expect(
                outputs.map { $0["name"] as? String } == [
                    "model.layers.0.self_attn.q_proj.weight",
                    "model.layers.0.self_attn.q_proj.scales",
                    "model.layers.0.self_attn.q_proj.biases",
                ])
            #expect(outputs.map { $0["dtype"] as? String } == ["U32", "BF16", "BF16"])
            let totals = try #require(doc["totals"] as? [String: Any])
            // The plan's totals are what the conversion then writes.
            _ = try ckpt([src, dir + "/out", "--to", "mlx", "--bits", "4"])
            let index = try JSONSerialization.jsonObject(
                with: Data(
                    contentsOf: URL(fileURLWithPath: dir + "/out/model.safetensors.index.json")))
            let meta = try #require((index as? [String: Any])?["metadata"] as? [String: Any])
            #expect(totals["output_bytes"] as? Int == meta["total_size"] as? Int)
            #expect(totals["parameters"] as? Int == meta["total_parameters"] as? Int)
        } else {
            #expect(
                r.stdout.contains(
                    "model.layers.1.mlp.down_proj.weight BF16 [64, 64] → model.layers.1.mlp.down_proj.scales"
                ))
            #expect(r.stdout.contains("nothing written"))
            #expect(r.stdout.contains("total: 27 source tensors"))
        }
    }
}

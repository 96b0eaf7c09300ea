import Foundation
import Testing
import TestSupport

@Suite("ckpt convert with quantization", .enabled(if: Python.available))
struct QuantizeCommandTests {
    func makeSource(_ path: String, dtype: String = "float32") throws {
        let py = try Python.run("""
            import sys, numpy as np, ml_dtypes
            from safetensors.numpy import save_file
            dt = {"float32": np.float32, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16}[sys.argv[2]]
            rng = np.random.default_rng(3)
            save_file({"a.weight": rng.standard_normal((64, 256)).astype(dt),
                       "b.weight": (rng.standard_normal((32, 512)) * 3).astype(dt),
                       "odd.weight": rng.standard_normal((8, 40)).astype(dt),
                       "norm.weight": rng.standard_normal((256,)).astype(dt)}, sys.argv[1])
            """, [path, dtype])
        try #require(py.status == 0, "\(py.stderr)")
    }

    @Test("--bits B --group-size G equals mx.quantize, tensor for tensor",
          .enabled(if: Python.has("mlx.core")),
          arguments: [("float32", 4, 64), ("bfloat16", 8, 32), ("float16", 3, 128), ("float32", 6, 64)])
    func affine(dtype: String, bits: Int, group: Int) throws {
        let dir = TestPaths.temporaryDirectory()
        try makeSource(dir + "/a.safetensors", dtype: dtype)
        let r = try CLI.run(["convert", dir + "/a.safetensors", dir + "/q.safetensors",
                             "--bits", "\(bits)", "--group-size", "\(group)", "--no-catalog"])
        try #require(r.status == 0, "\(r.stderr)")
        let check = try Python.run("""
            import sys, mlx.core as mx
            d, bits, group = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
            src = mx.load(d + "/a.safetensors"); q = mx.load(d + "/q.safetensors")
            quantized = 0
            for k, w in src.items():
                stem = k[:-len(".weight")]
                if w.ndim >= 2 and w.shape[-1] % group == 0:
                    wq, s, b = mx.quantize(w, group_size=group, bits=bits)
                    assert q[k].dtype == mx.uint32 and mx.array_equal(q[k], wq).item(), k
                    assert q[stem + ".scales"].dtype == w.dtype and mx.array_equal(q[stem + ".scales"], s).item(), k
                    assert mx.array_equal(q[stem + ".biases"], b).item(), k
                    quantized += 1
                else:
                    assert mx.array_equal(q[k], w).item() and q[k].dtype == w.dtype, k
            assert quantized == 2 or (group == 128 and quantized == 2), quantized
            print("quantized", quantized)
            """, [dir, "\(bits)", "\(group)"])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("quantized 2"))
    }

    @Test("a plain tensor without .weight gets its scales and biases under its own name, and lints clean")
    func bareNames() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { TestPaths.removeTemporary(dir) }
        let py = try Python.run("""
            import sys, numpy as np
            from safetensors.numpy import save_file
            rng = np.random.default_rng(5)
            save_file({"w": rng.standard_normal((4, 64)).astype(np.float32),
                       "x.weight": rng.standard_normal((4, 64)).astype(np.float32)}, sys.argv[1])
            """, [dir + "/a.safetensors"])
        try #require(py.status == 0, "\(py.stderr)")
        let r = try CLI.run(["convert", dir + "/a.safetensors", dir + "/q.safetensors", "--bits", "4", "--no-catalog"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("error"), "\(r.stderr)")
        let names = try Python.run("""
            import sys
            from safetensors import safe_open
            with safe_open(sys.argv[1], "np") as f:
                print(" ".join(f"{k}:{f.get_tensor(k).dtype}" for k in sorted(f.keys())))
            """, [dir + "/q.safetensors"])
        #expect(names.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            == "w:uint32 w.biases:float32 w.scales:float32 x.biases:float32 x.scales:float32 x.weight:uint32")
        let lint = try CLI.run(["lint", dir + "/q.safetensors"])
        #expect(lint.status == 0 && lint.stdout.contains("0 error(s)"), "\(lint.stdout)\(lint.stderr)")
    }

    @Test("--gguf-type Q8_0 / Q4_0 on a plain file equals gguf-py's quantize; other tensors F32",
          arguments: ["Q8_0", "Q4_0", "Q5_1"])
    func ggufLegacy(type: String) throws {
        let dir = TestPaths.temporaryDirectory()
        try makeSource(dir + "/a.safetensors", dtype: "float16")
        let r = try CLI.run(["convert", dir + "/a.safetensors", dir + "/q.gguf", "--gguf-type", type, "--no-catalog"])
        try #require(r.status == 0, "\(r.stderr)")
        let check = try Python.run("""
            import sys, numpy as np, gguf
            from gguf.quants import quantize
            from safetensors.numpy import load_file
            d, t = sys.argv[1], gguf.GGMLQuantizationType[sys.argv[2]]
            src = load_file(d + "/a.safetensors")
            r = gguf.GGUFReader(d + "/q.gguf")
            kv = {f.name: f for f in r.fields.values()}
            assert int(kv["general.quantization_version"].parts[-1][0]) == 2
            for tensor in r.tensors:
                w = src[tensor.name].astype(np.float32)
                if w.ndim >= 2 and w.shape[-1] % 32 == 0:
                    assert tensor.tensor_type == t, (tensor.name, tensor.tensor_type)
                    want = quantize(w, t)
                    assert np.array_equal(np.asarray(tensor.data).reshape(want.shape), want), tensor.name
                else:
                    assert tensor.tensor_type == gguf.GGMLQuantizationType.F32, tensor.name
                    assert np.array_equal(np.asarray(tensor.data).reshape(w.shape), w), tensor.name
            print("ok")
            """, [dir, type])
        #expect(check.status == 0, "\(check.stderr)")
    }

    @Test("SmolLM2 Q4_1 → Q4_K_M picks llama-quantize's types: 576-wide rows fall back, ffn_down fits",
          .enabled(if: TestPaths.model("smollm2-135m-instruct-q4_1.gguf") != nil))
    func smolQ4KM() throws {
        let src = try #require(TestPaths.model("smollm2-135m-instruct-q4_1.gguf"))
        let dir = TestPaths.temporaryDirectory()
        let r = try CLI.run(["convert", src, dir + "/q4km.gguf", "--gguf-type", "Q4_K_M", "--json", "--no-catalog"])
        try #require(r.status == 0, "\(r.stderr)")
        let doc = try #require(try CLI.json(r) as? [String: Any])
        let tensors = try #require(doc["tensors"] as? [[String: Any]])
        let type = Dictionary(uniqueKeysWithValues: tensors.map { ($0["name"] as? String ?? "", $0["dtype"] as? String ?? "") })
        #expect(type["token_embd.weight"] == "Q8_0")     // tied: output rule, 576 % 256 != 0
        #expect(type["blk.0.attn_q.weight"] == "Q5_0")   // Q4_K → Q5_0 fallback
        #expect(type["blk.0.attn_v.weight"] == "Q8_0")   // Q6_K (more bits) → Q8_0
        #expect(type["blk.3.attn_v.weight"] == "Q5_0")
        #expect(type["blk.0.ffn_down.weight"] == "Q6_K") // rows 1536 wide: K types fit
        #expect(type["blk.3.ffn_down.weight"] == "Q4_K")
        #expect(type["blk.0.attn_norm.weight"] == "F32")
        // llama-quantize's order: non-block tensors first, then by layer.
        let names = tensors.compactMap { $0["name"] as? String }
        #expect(names.prefix(2) == ["output_norm.weight", "token_embd.weight"])
        let check = try Python.run("""
            import sys, gguf
            r = gguf.GGUFReader(sys.argv[1])
            kv = {f.name: f for f in r.fields.values()}
            print(int(kv["general.file_type"].parts[-1][0]), len(r.tensors))
            """, [dir + "/q4km.gguf"])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.hasPrefix("15 "))
    }

    @Test("NaN weights are refused naming the tensor, unless --allow-non-finite; nothing is written")
    func nonFinite() throws {
        let dir = TestPaths.temporaryDirectory()
        let py = try Python.run("""
            import sys, numpy as np
            from safetensors.numpy import save_file
            w = np.ones((4, 64), np.float32); w[2, 5] = np.nan
            save_file({"bad.weight": w}, sys.argv[1])
            """, [dir + "/n.safetensors"])
        try #require(py.status == 0)
        let r = try CLI.run(["convert", dir + "/n.safetensors", dir + "/q.safetensors", "--bits", "4", "--no-catalog"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("bad.weight"))
        #expect(strayFiles(in: dir, expected: ["n.safetensors"]).isEmpty)
        let ok = try CLI.run(["convert", dir + "/n.safetensors", dir + "/q.safetensors", "--bits", "4",
                              "--allow-non-finite", "--no-catalog"])
        #expect(ok.status == 0, "\(ok.stderr)")
    }

    @Test("bad quantization options are refused before anything is written",
          arguments: [["--bits", "7"], ["--bits", "4", "--group-size", "48"], ["--gguf-type", "Q9_K"],
                      ["--gguf-type", "Q4_0", "--to", "npz"]])
    func badOptions(options: [String]) throws {
        let dir = TestPaths.temporaryDirectory()
        try makeSource(dir + "/a.safetensors")
        let r = try CLI.run(["convert", dir + "/a.safetensors", dir + "/out.safetensors", "--no-catalog"] + options)
        #expect(r.status != 0)
        #expect(r.stderr.lowercased().contains("error"))
        #expect(strayFiles(in: dir, expected: ["a.safetensors"]).isEmpty)
    }
}

@Suite("ckpt convert --override", .enabled(if: Python.available))
struct OverrideCommandTests {
    @Test("overrides win over the preset, by pattern and layer range",
          .enabled(if: TestPaths.model("smollm2-135m-instruct-q4_1.gguf") != nil))
    func gguf() throws {
        let src = try #require(TestPaths.model("smollm2-135m-instruct-q4_1.gguf"))
        let dir = TestPaths.temporaryDirectory()
        let r = try CLI.run(["convert", src, dir + "/o.gguf", "--gguf-type", "Q4_K_M", "--json", "--no-catalog",
                             "--override", "attn_q=Q8_0", "--override", "ffn_up@0-1=keep"])
        try #require(r.status == 0, "\(r.stderr)")
        let doc = try #require(try CLI.json(r) as? [String: Any])
        let tensors = try #require(doc["tensors"] as? [[String: Any]])
        let type = Dictionary(uniqueKeysWithValues: tensors.map { ($0["name"] as? String ?? "", $0["dtype"] as? String ?? "") })
        #expect(type["blk.0.attn_q.weight"] == "Q8_0")
        #expect(type["blk.29.attn_q.weight"] == "Q8_0")
        #expect(type["blk.0.ffn_up.weight"] == "Q4_1")   // kept as the source had it
        #expect(type["blk.2.ffn_up.weight"] == "Q5_0")   // the preset's choice (Q4_K → Q5_0)
        #expect((r.stdout).contains("override attn_q=Q8_0"))
    }

    @Test("an override that does not fit the rows is refused before writing")
    func misfit() throws {
        let dir = TestPaths.temporaryDirectory()
        let py = try Python.run("""
            import sys, numpy as np
            from safetensors.numpy import save_file
            save_file({"w.weight": np.ones((4, 40), np.float32)}, sys.argv[1])
            """, [dir + "/a.safetensors"])
        try #require(py.status == 0)
        let r = try CLI.run(["convert", dir + "/a.safetensors", dir + "/o.gguf", "--gguf-type", "F16",
                             "--override", "w=Q8_0", "--no-catalog"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("w.weight"))
        #expect(strayFiles(in: dir, expected: ["a.safetensors"]).isEmpty)
    }
}

@Suite("ckpt convert --error-report", .enabled(if: Python.available))
struct ErrorReportCommandTests {
    @Test("per-tensor RMSE and max error equal numpy's on gguf-py's round trip")
    func ggufErrors() throws {
        let dir = TestPaths.temporaryDirectory()
        let py = try Python.run("""
            import sys, numpy as np
            from safetensors.numpy import save_file
            rng = np.random.default_rng(5)
            save_file({"a.weight": rng.standard_normal((16, 256)).astype(np.float32),
                       "b.weight": (rng.standard_normal((8, 64)) * 4).astype(np.float32)}, sys.argv[1])
            """, [dir + "/a.safetensors"])
        try #require(py.status == 0)
        let r = try CLI.run(["convert", dir + "/a.safetensors", dir + "/q.gguf", "--gguf-type", "Q4_0",
                             "--error-report", "--json", "--no-catalog"])
        try #require(r.status == 0, "\(r.stderr)")
        let doc = try #require(try CLI.json(r) as? [String: Any])
        let tensors = try #require(doc["tensors"] as? [[String: Any]])
        let check = try Python.run("""
            import sys, json, numpy as np, gguf
            from gguf.quants import quantize, dequantize
            from safetensors.numpy import load_file
            src = load_file(sys.argv[1]); out = {}
            for k, w in src.items():
                d = dequantize(quantize(w, gguf.GGMLQuantizationType.Q4_0), gguf.GGMLQuantizationType.Q4_0).reshape(w.shape)
                e = d.astype(np.float64) - w.astype(np.float64)
                out[k] = [float(np.sqrt(np.mean(e * e))), float(np.max(np.abs(e))),
                          float(np.sqrt(np.mean(e * e)) / np.sqrt(np.mean(w.astype(np.float64) ** 2)))]
            print(json.dumps(out))
            """, [dir + "/a.safetensors"])
        try #require(check.status == 0, "\(check.stderr)")
        let want = try #require(try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: [Double]])
        #expect(tensors.count == 2)
        for t in tensors {
            let name = try #require(t["name"] as? String)
            let e = try #require(t["error"] as? [String: Double])
            let w = try #require(want[name])
            #expect(abs((e["rmse"] ?? 0) - w[0]) <= 1e-9 * max(1, w[0]), "\(name)")
            #expect(abs((e["max_abs_error"] ?? 0) - w[1]) <= 1e-9 * max(1, w[1]), "\(name)")
            #expect(abs((e["relative_rmse"] ?? 0) - w[2]) <= 1e-9, "\(name)")
            #expect((e["relative_rmse"] ?? 0) > 0.01 && (e["relative_rmse"] ?? 1) < 0.3)
        }
    }
}

@Suite("GGUF blocks → MLX affine without re-quantizing", .enabled(if: Python.has("mlx.core")))
struct TranscodeCommandTests {
    @Test("Q4_0 / Q4_1 / Q8_0 blocks become affine g32 groups that mx.dequantize decodes to gguf-py's values",
          arguments: ["Q4_0", "Q4_1", "Q8_0"])
    func transcode(type: String) throws {
        let dir = TestPaths.temporaryDirectory()
        let make = try Python.run("""
            import sys, numpy as np, gguf
            from gguf.quants import quantize
            t = gguf.GGMLQuantizationType[sys.argv[2]]
            w = np.random.default_rng(9).standard_normal((8, 128)).astype(np.float32)
            g = gguf.GGUFWriter(sys.argv[1], "llama")
            g.add_tensor("w.weight", quantize(w, t), raw_dtype=t)
            g.write_header_to_file(); g.write_kv_data_to_file(); g.write_tensors_to_file(); g.close()
            """, [dir + "/q.gguf", type])
        try #require(make.status == 0, "\(make.stderr)")
        let bits = type == "Q8_0" ? "8" : "4"
        let r = try CLI.run(["convert", dir + "/q.gguf", dir + "/m.safetensors", "--bits", bits, "--group-size", "32",
                             "--json", "--no-catalog"])
        try #require(r.status == 0, "\(r.stderr)")
        let doc = try #require(try CLI.json(r) as? [String: Any])
        let t = try #require((doc["tensors"] as? [[String: Any]])?.first)
        #expect((t["note"] as? String)?.contains("transcoded exactly") == true)
        let check = try Python.run("""
            import sys, numpy as np, gguf, mlx.core as mx
            from gguf.quants import dequantize
            r = gguf.GGUFReader(sys.argv[1]); t = r.tensors[0]
            want = dequantize(t.data, t.tensor_type).reshape(8, 128)
            m = mx.load(sys.argv[2])
            got = mx.dequantize(m["w.weight"], m["w.scales"], m["w.biases"], group_size=32, bits=int(sys.argv[3]))
            got = np.array(got)
            assert np.array_equal(got, want) or np.max(np.abs(got - want)) == 0, np.max(np.abs(got - want))
            print("ok")
            """, [dir + "/q.gguf", dir + "/m.safetensors", bits])
        #expect(check.status == 0, "\(check.stderr)")
    }
}

import Foundation
import Formats
import TestSupport
import Testing

@testable import Convert
@testable import Verify

/// Hugging Face fixture → GGUF written by gguf-py exactly as convert_hf_to_gguf.py lays it out
/// (llama.cpp names, `LlamaModel.permute` on q/k for arch llama, `rope_freqs.weight` for Llama 3
/// scaling, no `output.weight` when tied) → ckpt's GGUF → HF import → the fixture again, bit
/// for bit.
@Suite("GGUF → HF round trip")
struct GGUFImportRoundTripTests {
    /// Writes a GGUF from a safetensors file and its config.json with gguf-py (and numpy only,
    /// so it runs where torch is absent). BF16 tensors stay BF16.
    static let writer = #"""
        import sys, json, math, struct, numpy as np, gguf
        src, cfg_path, out, arch = sys.argv[1:5]
        def read(path):
            b = open(path, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]
            header = json.loads(b[8:8 + n]); base = 8 + n; res = {}
            for k, v in header.items():
                if k == '__metadata__': continue
                s, e = v['data_offsets']
                dt = {'F32': np.float32, 'BF16': np.uint16, 'F16': np.float16}[v['dtype']]
                res[k] = (np.frombuffer(b[base + s:base + e], dtype=dt).reshape(v['shape']), v['dtype'])
            return res
        def permute(w, n_head):  # convert_hf_to_gguf.py LlamaModel.permute
            return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
                    .swapaxes(1, 2).reshape(w.shape))
        c = json.load(open(cfg_path))
        heads = c['num_attention_heads']; kv = c.get('num_key_value_heads') or heads
        hd = c.get('head_dim') or c['hidden_size'] // heads
        rope = c.get('rope_parameters') or c.get('rope_scaling') or {}
        theta = c.get('rope_theta') or rope.get('rope_theta') or 10000.0
        w = gguf.GGUFWriter(out, arch)
        w.add_block_count(c['num_hidden_layers']); w.add_context_length(c['max_position_embeddings'])
        w.add_embedding_length(c['hidden_size']); w.add_feed_forward_length(c['intermediate_size'])
        w.add_head_count(heads); w.add_head_count_kv(kv); w.add_rope_freq_base(theta)
        w.add_layer_norm_rms_eps(c['rms_norm_eps'])
        if arch == 'llama':
            w.add_vocab_size(c['vocab_size']); w.add_rope_dimension_count(hd)
        if rope.get('rope_type') == 'llama3':  # LlamaModel.generate_extra_tensors
            factor = rope['factor']; low = rope.get('low_freq_factor', 1.0)
            high = rope.get('high_freq_factor', 4.0); old = rope['original_max_position_embeddings']
            freqs = 1.0 / (np.float32(theta) ** (np.arange(0, hd, 2, dtype=np.float32) / np.float32(hd)))
            factors = []
            for f in freqs:
                wl = 2 * math.pi / f
                if wl < old / high: factors.append(1)
                elif wl > old / low: factors.append(factor)
                else:
                    s = (old / wl - low) / (high - low); factors.append(1 / ((1 - s) / factor + s))
            w.add_tensor('rope_freqs.weight', np.array(factors, dtype=np.float32))
        names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA if arch == 'llama' else gguf.MODEL_ARCH.QWEN2,
                                         c['num_hidden_layers'])
        for name, (a, dt) in read(src).items():
            if name.endswith('rotary_emb.inv_freq'): continue
            if name == 'lm_head.weight' and c.get('tie_word_embeddings'): continue
            new = names.get_name(name, try_suffixes=('.weight', '.bias'))
            if arch == 'llama' and 'q_proj' in name: a = permute(a, heads)
            if arch == 'llama' and 'k_proj' in name: a = permute(a, kv)
            a = np.ascontiguousarray(a)
            if dt == 'BF16': w.add_tensor(new, a, raw_dtype=gguf.GGMLQuantizationType.BF16)
            else: w.add_tensor(new, a)
        w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
        """#

    struct Case: CustomTestStringConvertible, Sendable {
        var fixture: String
        var arch: String
        var testDescription: String { "\(fixture) (\(arch))" }
    }

    @Test(
        "Every tensor equals the Hugging Face fixture bit for bit; config.json gives the same model",
        .enabled(if: Python.available),
        arguments: [
            Case(fixture: "llama_gqa", arch: "llama"), Case(fixture: "mistral", arch: "llama"),
            Case(fixture: "qwen2", arch: "qwen2"), Case(fixture: "llama_tied", arch: "llama"),
        ])
    func roundTrip(_ c: Case) throws {
        let dir = TestPaths.temporaryDirectory("gguf-import")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fixture = TestPaths.fixture("models/" + c.fixture)
        // llama_tied is a pytorch_model.bin: ckpt's own reader makes the safetensors gguf-py reads.
        var weights = fixture + "/model.safetensors"
        if !FileManager.default.fileExists(atPath: weights) {
            weights = dir + "/weights.safetensors"
            _ = try Converter.convert(
                ConversionRequest(source: fixture + "/pytorch_model.bin", destination: weights))
        }
        let gguf = dir + "/model.gguf"
        let r = try Python.run(Self.writer, [weights, fixture + "/config.json", gguf, c.arch])
        try #require(r.status == 0, "\(r.stderr)")

        let out = dir + "/hf"
        let result = try Converter.convert(
            ConversionRequest(source: gguf, destination: out, format: .hf))
        let expected = try Checkpoint.open(fixture)
        let got = try Checkpoint.open(out)
        let tied = expected.metadata["tie_word_embeddings"]?.boolValue == true
        let names = expected.tensors.map(\.name).filter { !(tied && $0 == "lm_head.weight") }
        #expect(Set(got.tensors.map(\.name)) == Set(names))
        for name in names {
            let e = try #require(expected.tensor(named: name))
            let g = try #require(got.tensor(named: name), "\(name) missing")
            #expect(g.type == e.type && g.shape == e.shape, "\(name)")
            #expect(try got.bytes(of: g) == expected.bytes(of: e), "\(name) differs")
        }

        var want = try LlamaConfiguration(configuration: expected.metadata)
        let have = try LlamaConfiguration(configuration: got.metadata)
        if want.family == .mistral { want.family = .llama }  // llama.cpp runs Mistral as arch llama
        #expect(have == want)
        if c.fixture == "llama_tied" {
            #expect(result.notes["rope_freqs.weight"]?.contains("rope_scaling llama3") == true)
        }
        let dtype = got.metadata["torch_dtype"]?.stringValue
        #expect(dtype == (c.fixture == "qwen2" ? "bfloat16" : "float32"))
        #expect(result.notes["tokenizer.json"]?.hasPrefix("not written") == true)
    }

    /// torch's logits on the weights llama_gqa.gguf holds (make_models.py), first 10 tokens.
    static func referenceLogits() throws -> [Float] {
        let source = try Checkpoint.open(TestPaths.fixture("models/llama_gqa_gguf.logits.npy"))
        let t = try #require(source.tensors.first)
        return try source.bytes(of: t).withBytes { Array($0.bindMemory(to: Float.self)) }
    }

    @Test(
        "llama_gqa.gguf (Q8_0) → MLX: transcoded exactly, and mlx-lm's logits are torch's",
        .enabled(if: Python.has("mlx_lm")))
    func mlxLoadsTranscodedFixture() throws {
        let dir = TestPaths.temporaryDirectory("gguf-import-mlx-fixture")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/mlx"
        let result = try Converter.convert(
            ConversionRequest(
                source: TestPaths.fixture("models/llama_gqa.gguf"), destination: out, format: .mlx))
        #expect(result.notes.values.filter { $0.hasPrefix("transcoded exactly") }.count == 15)
        let script = #"""
            import sys, json, numpy as np
            import mlx.core as mx
            from pathlib import Path
            from mlx_lm.utils import load_model  # no tokenizer in this GGUF
            model, _ = load_model(Path(sys.argv[1]))
            ids = np.load(sys.argv[2]).astype(np.int32)
            print(json.dumps(np.array(model(mx.array(ids[None]))[0]).reshape(-1).tolist()))
            """#
        let r = try Python.run(script, [out, TestPaths.fixture("models/tokens.npy")])
        try #require(r.status == 0, "\(r.stderr)")
        let got =
            try JSON.parse(r.stdout).arrayValue?.compactMap { $0.doubleValue.map(Float.init) } ?? []
        let want = try Self.referenceLogits()
        #expect(got.count == want.count)
        #expect(zip(got, want).allSatisfy { abs($0 - $1) < 1e-4 })
    }

    @Test("llama_gqa.gguf (Q8_0) → HF: ckpt's forward pass on it gives torch's logits")
    func hfForwardOnFixture() throws {
        let dir = TestPaths.temporaryDirectory("gguf-import-hf-fixture")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/hf"
        _ = try Converter.convert(
            ConversionRequest(
                source: TestPaths.fixture("models/llama_gqa.gguf"), destination: out, format: .hf))
        let tokens: [Int32] = [1, 5, 17, 100, 42, 99, 3, 127, 64, 8]  // make_models.py TOKENS
        let got = try ForwardPass.run(model: out, tokens: tokens).floats
        let want = try Self.referenceLogits()
        #expect(got.count == want.count)
        #expect(zip(got, want).allSatisfy { abs($0 - $1) < 1e-4 })
    }
}

import Foundation
import Testing
import Compute
import Formats
import Quantize
import TestSupport
import Verify
@testable import Convert

/// HF directory → GGUF (`ckpt convert HF_DIR out.gguf`), against the converter's layout
/// (Tests/fixtures/make_gguf_export.py) and against llama.cpp itself (llama-cpp-python).
@Suite("HF to GGUF export")
struct GGUFExportTests {
    static let fixtures = ["llama", "smollm", "mistral", "qwen2"]

    static func directory(_ name: String) -> String { TestPaths.fixture("gguf_export/\(name)") }

    /// Converts fixture `name` into a fresh temporary GGUF.
    static func export(_ name: String, gguf: GGUFPreset? = nil, dtype: DType? = nil) throws
        -> String
    {
        let out = TestPaths.temporaryDirectory("ckpt-ggufout") + "/\(name).gguf"
        _ = try Converter.convert(
            ConversionRequest(
                source: directory(name), destination: out, dtype: dtype,
                gguf: gguf.map { .init(preset: $0) }))
        return out
    }

    @Test("metadata equals the converter's key for key and type for type", arguments: fixtures)
    func metadataMatchesReference(name: String) throws {
        let ours = try GGUFFile(path: try Self.export(name))
        let reference = try GGUFFile(path: TestPaths.fixture("gguf_export/\(name).reference.gguf"))
        #expect(Array(ours.metadata.keys) == Array(reference.metadata.keys))
        for (key, value) in reference.metadata {
            // MetadataValue equality includes the value type (u32 vs i32, f32 vs f64, array
            // element types).
            #expect(ours.metadata[key] == value, "\(key)")
        }
    }

    @Test(
        "tensors have llama.cpp's names, types, shapes and the converter's bytes",
        arguments: fixtures)
    func tensorsMatchReference(name: String) throws {
        let ours = try GGUFFile(path: try Self.export(name))
        let reference = try GGUFFile(path: TestPaths.fixture("gguf_export/\(name).reference.gguf"))
        #expect(Set(ours.tensors.map(\.name)) == Set(reference.tensors.map(\.name)))
        for r in reference.tensors {
            let o = try #require(ours.tensor(named: r.name))
            #expect(o.type == r.type, "\(r.name)")
            #expect(o.shape == r.shape, "\(r.name)")
            let a = try ours.bytes(of: o), b = try reference.bytes(of: r)
            if r.name == LlamaConfiguration.ggufRopeFrequencies {
                // Computed in float32 by both; pow may differ in the last place.
                let x = a.raw.bindMemory(to: Float.self), y = b.raw.bindMemory(to: Float.self)
                for i in 0..<x.count {
                    #expect(abs(x[i] - y[i]) <= 1e-6 * abs(y[i]), "\(r.name)[\(i)]")
                }
            } else {
                #expect(a == b, "\(r.name) bytes")
            }
        }
        if name == "llama" { #expect(ours.tensor(named: "rope_freqs.weight") != nil) }
        if name == "smollm" || name == "qwen2" {
            #expect(ours.tensor(named: "output.weight") == nil)
        }
    }

    @Test("--dtype f16 casts the 2-D weights only: norms stay F32, file type 1 (MOSTLY_F16)")
    func dtypeCastsWeightsOnly() throws {
        let file = try GGUFFile(path: try Self.export("llama", dtype: .f16))
        #expect(file.tensor(named: "blk.0.attn_q.weight")?.type == .dense(.f16))
        #expect(file.tensor(named: "token_embd.weight")?.type == .dense(.f16))
        #expect(file.tensor(named: "blk.0.attn_norm.weight")?.type == .dense(.f32))
        #expect(file.tensor(named: "rope_freqs.weight")?.type == .dense(.f32))
        #expect(file.metadata["general.file_type"] == .uint32(1))
    }

    @Test("Q/K rows are interleaved per head as LlamaModel.permute does")
    func permutation() {
        // 2 heads of 4 rows, 1 column: rows h·4 + (0,1,2,3) → (0,2,1,3) within each head.
        let src: [Float] = [0, 1, 2, 3, 10, 11, 12, 13]
        var dst = [Float](repeating: -1, count: 8)
        src.withUnsafeBytes { s in
            dst.withUnsafeMutableBytes { d in
                GGUFExportSource.permuteRows(s, into: d, rows: 8, heads: 2)
            }
        }
        #expect(dst == [0, 2, 1, 3, 10, 12, 11, 13])
    }

    @Test("tokenizer.ggml.pre comes from the pre-tokenizer definition; unknown ones are refused")
    func preTokenizerNames() throws {
        func name(_ json: String) throws -> String {
            try GGUFExportTokenizer.preTokenizerName(try JSON.parse(json), file: "t.json")
        }
        #expect(try name(#"{"type":"ByteLevel","add_prefix_space":false}"#) == "gpt-2")
        #expect(
            try name(
                #"{"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},{"type":"ByteLevel","add_prefix_space":false,"use_regex":true}]}"#
            )
                == "smollm")
        let error = #expect(throws: FormatError.self) {
            _ = try name(#"{"type":"Whitespace"}"#)
        }
        #expect(error?.field == "pre_tokenizer")
        #expect(throws: FormatError.self) {
            _ = try name(#"{"type":"ByteLevel","add_prefix_space":true}"#)
        }
    }

    @Test("a vocabulary that tokenizes differently from tokenizer.json fails the conversion")
    func parityFailure() throws {
        let dir = TestPaths.temporaryDirectory("ckpt-ggufout-bad") + "/smollm"
        try FileManager.default.copyItem(atPath: Self.directory("smollm"), toPath: dir)
        // tokenizer_config asks for a BOS that tokenizer.json's post-processor never adds.
        let configPath = dir + "/tokenizer_config.json"
        var config = try #require(
            try JSON.parse(String(contentsOfFile: configPath, encoding: .utf8)).objectValue)
        config["add_bos_token"] = .bool(true)
        try MetadataValue.object(config).jsonString().write(
            toFile: configPath, atomically: true, encoding: .utf8)
        let out = dir + ".gguf"
        let error = #expect(throws: ConvertError.self) {
            _ = try Converter.convert(ConversionRequest(source: dir, destination: out))
        }
        #expect(
            error?.message.contains("tokenizer parity check failed (with special tokens)") == true)
        #expect(error?.message.contains("\"Hello world\"") == true)
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test(
        "gguf-py reads the output: names, types, shapes, values and metadata as the reference",
        .enabled(if: Python.available), arguments: fixtures)
    func ggufPyReads(name: String) throws {
        let out = try Self.export(name)
        let script = """
            import sys, numpy as np, gguf
            a, b = gguf.GGUFReader(sys.argv[1]), gguf.GGUFReader(sys.argv[2])
            fa = {k: (f.types, f.contents()) for k, f in a.fields.items() if not k.startswith("GGUF.")}
            fb = {k: (f.types, f.contents()) for k, f in b.fields.items() if not k.startswith("GGUF.")}
            assert list(fa) == list(fb), (list(fa), list(fb))
            for k in fb: assert fa[k] == fb[k], (k, fa[k][0], fb[k][0])
            ta = {t.name: t for t in a.tensors}
            assert set(ta) == {t.name for t in b.tensors}
            for t in b.tensors:
                u = ta[t.name]
                assert u.tensor_type == t.tensor_type and list(u.shape) == list(t.shape), t.name
                assert np.allclose(np.asarray(u.data, dtype=np.float64), np.asarray(t.data, dtype=np.float64), rtol=1e-6, atol=0), t.name
            print("ok", len(fa), len(ta))
            """
        let r = try Python.run(
            script, [out, TestPaths.fixture("gguf_export/\(name).reference.gguf")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("ok"))
    }

    @Test(
        "llama.cpp tokenizes the probe texts to tokenizer.json's ids",
        .enabled(if: Python.has("llama_cpp")), arguments: fixtures)
    func llamaCppTokenizes(name: String) throws {
        let out = try Self.export(name)
        let script = """
            import sys, json, unicodedata, llama_cpp
            m = llama_cpp.Llama(model_path=sys.argv[1], vocab_only=True, verbose=False)
            ref = json.load(open(sys.argv[2]))
            nfc = sys.argv[3] == "1"
            for t, plain, special in zip(ref["texts"], ref["plain"], ref["special"]):
                if nfc and unicodedata.normalize("NFC", t) != t:
                    continue  # tokenizer.json normalizes to NFC; llama.cpp does not
                assert m.tokenize(t.encode(), add_bos=False, special=False) == plain, t
                assert m.tokenize(t.encode(), add_bos=True, special=False) == special, t
            print("ok")
            """
        let r = try Python.run(
            script,
            [
                out, TestPaths.fixture("gguf_export/\(name).tokens.json"),
                name == "qwen2" ? "1" : "0",
            ])
        #expect(r.status == 0, "\(r.stderr.suffix(2000))")
        #expect(r.stdout.hasPrefix("ok"))
    }

    /// Each fixture as stored (F32; BF16 for qwen2), with `--dtype f32`, and as F16 / Q8_0.
    static let logitCases: [(String, String)] = fixtures.flatMap { n in
        [(n, "stored"), (n, "f32"), (n, "F16"), (n, "Q8_0")]
    }

    /// Largest |Δ| over largest |logit| allowed between llama.cpp and the engine, by weight
    /// type. Both compute in float32, but ggml's CPU kernels first round the activations to
    /// the weights' `vec_dot_type`: F16 for F16 weights (2^-11 relative), BF16 for BF16
    /// (2^-8), Q8_0 blocks for Q8_0; the engine keeps them float32. Only F32 weights compare
    /// both engines' arithmetic alone.
    static let tolerance: [TensorType: Float] = [
        .dense(.f32): 1e-3, .dense(.f16): 3e-3, .dense(.bf16): 2e-2, .ggml(.Q8_0): 6e-2,
    ]

    @Test(
        "llama.cpp's logits equal the engine's on the same file",
        .enabled(if: Python.has("llama_cpp")), arguments: logitCases)
    func logitsMatchEngine(name: String, variant: String) throws {
        let out = try Self.export(
            name, gguf: GGUFPreset(name: variant), dtype: variant == "f32" ? .f32 : nil)
        let weights = try #require(try GGUFFile(path: out).tensor(named: "blk.0.attn_q.weight"))
            .type
        let tokens: [Int32] = [1, 5, 17, 100, 42, 99, 3, 127, 64, 8]
        let ours = try ForwardPass.run(model: out, tokens: tokens).floats
        let theirs = try LlamaCpp.logits(out, tokens: tokens)
        try #require(ours.count == theirs.count)
        let scale = theirs.map(abs).max() ?? 1
        let worst = zip(ours, theirs).map { abs($0 - $1) }.max() ?? .infinity
        let tolerance = try #require(Self.tolerance[weights])
        #expect(worst <= tolerance * scale, "\(weights): max |Δ| \(worst / scale) of max |logit|")
        // The engine's next token at every position is llama.cpp's, or a tie within the
        // tolerance.
        let vocab = ours.count / tokens.count
        for p in 0..<tokens.count {
            let a = ours[(p * vocab)..<((p + 1) * vocab)],
                b = theirs[(p * vocab)..<((p + 1) * vocab)]
            let best = try #require(b.max()), pick = try #require(a.indices.max { a[$0] < a[$1] })
            #expect(b[pick] >= best - tolerance * scale, "position \(p)")
        }
    }

    /// Largest |Δ| over largest |logit| of two logit arrays.
    static func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        let scale = b.map(abs).max() ?? 1
        return (zip(a, b).map { abs($0 - $1) }.max() ?? .infinity) / scale
    }

    @Test(
        "an MLX directory: affine g32 moved into Q4_1 exactly, the 8-bit layer dequantized, and llama.cpp runs it",
        .enabled(if: Python.has("llama_cpp")))
    func mlxTranscodes() throws {
        let out = TestPaths.temporaryDirectory("ckpt-ggufout-mlx") + "/llama_mlx.gguf"
        let result = try Converter.convert(
            ConversionRequest(
                source: Self.directory("llama_mlx"), destination: out,
                gguf: .init(preset: try #require(GGUFPreset(name: "Q4_1"))),
                // The 8-bit layer to Q8_0 and lm_head left F16, so that only exact blocks and
                // one 8-bit re-quantization separate the file from the MLX model.
                overrides: [
                    try QuantizationOverride(parsing: "ffn_down@0-0=Q8_0"),
                    try QuantizationOverride(parsing: "^output\\.weight$=F16"),
                ]))
        #expect(
            result.notes["blk.1.attn_q.weight"]
                == "transcoded exactly into Q4_1 (no re-quantization)")
        #expect(result.notes["blk.0.ffn_down.weight"]?.hasPrefix("dequantized") == true)
        let file = try GGUFFile(path: out)
        #expect(file.tensor(named: "blk.1.attn_q.weight")?.type == .ggml(.Q4_1))
        #expect(file.tensor(named: "blk.0.attn_norm.weight")?.type == .dense(.f32))
        // Value for value: the Q4_1 blocks decode to what the affine triple decodes to.
        let mlx = try ModelDirectory(path: Self.directory("llama_mlx"))
        let stem = "model.layers.1.mlp.gate_proj"
        let packed = try #require(mlx.tensor(named: stem + ".weight"))
        let scales = try #require(mlx.tensor(named: stem + ".scales"))
        let biases = try #require(mlx.tensor(named: stem + ".biases"))
        var expected = [Float](repeating: 0, count: 64 * 32)
        try expected.withUnsafeMutableBufferPointer { out in
            try Affine.dequantize(
                packed: try mlx.bytes(of: packed).raw, scales: try mlx.bytes(of: scales).raw,
                biases: try mlx.bytes(of: biases).raw, dtype: .f32, shape: [64, 32], bits: 4,
                groupSize: 32, into: out)
        }
        let gate = try #require(file.tensor(named: "blk.1.ffn_gate.weight"))
        var decoded = [Float](repeating: 0, count: 64 * 32)
        try decoded.withUnsafeMutableBufferPointer { out in
            try GGMLCodec.dequantize(.Q4_1, try file.bytes(of: gate).raw, into: out)
        }
        #expect(decoded == expected)

        let tokens: [Int32] = [1, 5, 17, 100, 42, 99, 3, 127, 64, 8]
        let reference = try ForwardPass.run(model: Self.directory("llama_mlx"), tokens: tokens)
            .floats
        let ours = try ForwardPass.run(model: out, tokens: tokens).floats
        #expect(Self.relativeError(ours, reference) < 1e-2)
        let theirs = try LlamaCpp.logits(out, tokens: tokens)
        // llama.cpp rounds activations to Q8_1 blocks for Q4_1 weights.
        #expect(Self.relativeError(ours, theirs) < 6e-2)
    }

    @Test("an MLX directory without --gguf-type is dequantized to its scales' dtype (F32 here)")
    func mlxDequantizes() throws {
        let out = TestPaths.temporaryDirectory("ckpt-ggufout-mlx") + "/llama_mlx_f16.gguf"
        let result = try Converter.convert(
            ConversionRequest(source: Self.directory("llama_mlx"), destination: out))
        #expect(result.notes["blk.1.attn_q.weight"] == "dequantized from affine 4-bit g32")
        let file = try GGUFFile(path: out)
        #expect(file.tensor(named: "blk.1.attn_q.weight")?.type == .dense(.f32))
        let tokens: [Int32] = [1, 5, 17, 100, 42, 99, 3, 127, 64, 8]
        let mlx = try ForwardPass.run(model: Self.directory("llama_mlx"), tokens: tokens).floats
        let ours = try ForwardPass.run(model: out, tokens: tokens).floats
        let f16 = TestPaths.temporaryDirectory("ckpt-ggufout-mlx") + "/llama_mlx_f16.gguf"
        _ = try Converter.convert(
            ConversionRequest(source: Self.directory("llama_mlx"), destination: f16, dtype: .f16))
        let half = try GGUFFile(path: f16)
        #expect(half.tensor(named: "blk.1.attn_q.weight")?.type == .dense(.f16))
        #expect(half.tensor(named: "blk.1.attn_norm.weight")?.type == .dense(.f32))
        // The engine's MLX kernels round scale·q + bias differently from a dense F16 weight.
        #expect(Self.relativeError(ours, mlx) < 5e-3)
    }

    @Test(
        "a Q4_K_M preset output loads and runs in llama.cpp", .enabled(if: Python.has("llama_cpp")))
    func presetLoads() throws {
        let out = try Self.export("smollm", gguf: GGUFPreset(name: "Q4_K_M"))
        let file = try GGUFFile(path: out)
        #expect(file.metadata["general.file_type"] == .uint32(15))
        let logits = try LlamaCpp.logits(out, tokens: [1, 5, 17, 100])
        #expect(logits.count > 0 && logits.count % 4 == 0)
        let finite = logits.allSatisfy { $0.isFinite }
        #expect(finite)
    }
}

/// llama.cpp (llama-cpp-python) as the oracle: logits for every position.
enum LlamaCpp {
    static func logits(_ path: String, tokens: [Int32]) throws -> [Float] {
        let npy = path + ".llamacpp.npy"
        let script = """
            import sys, numpy as np, llama_cpp
            # F32 KV cache (the default F16 cache rounds keys and values).
            m = llama_cpp.Llama(model_path=sys.argv[1], logits_all=True, n_ctx=64, n_threads=2,
                                type_k=0, type_v=0, verbose=False)
            m.eval([int(t) for t in sys.argv[3].split(",")])
            np.save(sys.argv[2], np.array(m.scores[: m.n_tokens], dtype=np.float32))
            """
        let r = try Python.run(script, [path, npy, tokens.map(String.init).joined(separator: ",")])
        guard r.status == 0 else {
            throw ConvertError("llama.cpp failed: \(r.stderr.suffix(2000))")
        }
        let array = try NPYFile(path: npy)
        let info = try #require(array.tensors.first)
        return try array.bytes(of: info).withBytes { Array($0.bindMemory(to: Float.self)) }
    }
}

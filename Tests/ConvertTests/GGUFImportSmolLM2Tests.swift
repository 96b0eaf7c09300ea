import Foundation
import Formats
import TestSupport
import Testing

@testable import Convert
@testable import Verify

/// The real SmolLM2-135M-Instruct GGUF (Q4_1, Q8_0 tied embedding, `gpt2` vocabulary with
/// pre-tokenizer `smollm`) converted to Hugging Face and MLX directories.
@Suite("SmolLM2 GGUF → HF / MLX", .serialized)
struct GGUFImportSmolLM2Tests {
    static let name = "smollm2-135m-instruct-q4_1.gguf"
    static let tokens: [Int32] = [504, 3575, 282, 4649, 314]  // "The capital of France is"
    static let corpus = [
        "Hello world", "The capital of France is", "  leading spaces and\ttabs\n\nnewlines",
        "numbers 1234567 3.14159 1,000,000", "émigré naïve café Ünïcödé", "日本語のテキスト 中文",
        "emoji 🚀🦙 ✅ 😶\u{200d}🌫️", "<|im_start|>user\nHi there<|im_end|>\n",
        "code: def f(x):\n    return x**2  # comment", "I've been 'told he's there, 'RE you sure?",
        "''''''```````\"\"\"\"......!!!!!!??????", "нещо на Български", "   ", "a\r\nb", "",
    ]

    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    @Test(
        "HF output: transformers' names, tied, config and tokenizer; its forward pass equals the GGUF's",
        .enabled(if: TestPaths.model(name) != nil))
    func huggingFace() throws {
        let gguf = try #require(TestPaths.model(Self.name))
        let dir = TestPaths.temporaryDirectory("gguf-import-smol")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/hf"
        let result = try Converter.convert(
            ConversionRequest(source: gguf, destination: out, format: .hf))
        #expect(result.notes["tokenizer.json"] == nil)
        let got = try Checkpoint.open(out)
        #expect(got.tensors.count == 272)
        #expect(got.tensor(named: "lm_head.weight") == nil)
        #expect(got.tensor(named: "model.layers.29.self_attn.q_proj.weight")?.shape == [576, 576])
        #expect(got.tensors.allSatisfy { $0.type == .dense(.f32) })
        let m = got.metadata
        #expect(m["architectures"]?.arrayValue?.first?.stringValue == "LlamaForCausalLM")
        #expect(m["num_key_value_heads"]?.intValue == 3)
        #expect(m["tie_word_embeddings"]?.boolValue == true)
        #expect(m["rms_norm_eps"]?.doubleValue == 1e-5)
        #expect(m["rope_theta"]?.doubleValue == 100000)
        #expect(m["max_position_embeddings"]?.intValue == 8192)
        #expect(m["eos_token_id"]?.intValue == 2)

        try expectTransformersTensors(out)

        let fromGGUF = try ForwardPass.run(model: gguf, tokens: Self.tokens).floats
        let fromHF = try ForwardPass.run(model: out, tokens: Self.tokens).floats
        #expect(fromHF.count == fromGGUF.count)
        // The same dequantized values; only the matmul kernels differ (packed vs dense).
        #expect(Self.maxDifference(fromHF, fromGGUF) < 1e-3)

        let ours = try Tokenizers.load(modelDirectory: out)
        let reference = try Tokenizers.load(gguf: try GGUFFile(path: gguf))
        for text in Self.corpus {
            #expect(
                ours.encode(text, addSpecialTokens: true)
                    == reference.encode(text, addSpecialTokens: true),
                "\(text.debugDescription)")
        }
        let config = try JSON.parse(
            try String(contentsOfFile: out + "/tokenizer_config.json", encoding: .utf8))
        #expect(config["chat_template"]?.stringValue?.contains("<|im_start|>") == true)
        #expect(config["eos_token"]?.stringValue == "<|im_end|>")
        // As SmolLM2's own tokenizer_config.json: BOS/EOS only in tokenizer.json's post-processor.
        #expect(config["add_bos_token"] == nil)
    }

    @Test(
        "tokenizers loads our tokenizer.json and gives llama.cpp's ids on a varied corpus; transformers reads config and tokenizer",
        .enabled(
            if: TestPaths.model(name) != nil && Python.has("tokenizers") && Python.has("llama_cpp"))
    )
    func tokenizerParity() throws {
        let gguf = try #require(TestPaths.model(Self.name))
        let dir = TestPaths.temporaryDirectory("gguf-import-tok")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Only the side files matter here: planned, not converted.
        let out = dir + "/hf"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let request = ConversionRequest(source: gguf, destination: out, format: .hf)
        let plan = try Planner.plan(request, source: try Checkpoint.open(gguf))
        let notes = try GGUFImport.writeSideFiles(
            try #require(plan.ggufImport), plan: plan, directory: out)
        #expect(notes["tokenizer.json"] == nil)
        let corpusFile = dir + "/corpus.json"
        try MetadataValue.array(Self.corpus.map { .string($0) }).jsonString()
            .write(toFile: corpusFile, atomically: true, encoding: .utf8)
        let script = #"""
            import sys, json
            from tokenizers import Tokenizer
            from llama_cpp import Llama
            t = Tokenizer.from_file(sys.argv[1] + "/tokenizer.json")
            llm = Llama(model_path=sys.argv[2], vocab_only=True, verbose=False)
            bad = 0
            for s in json.load(open(sys.argv[3])):
                a = t.encode(s, add_special_tokens=True).ids
                b = llm.tokenize(s.encode(), add_bos=False, special=True)
                if a != b: bad += 1; print("ids", repr(s), a, b)
                if t.decode(a, skip_special_tokens=False) != s: bad += 1; print("text", repr(s))
            try:
                import transformers
                c = transformers.AutoConfig.from_pretrained(sys.argv[1])
                assert c.model_type == "llama" and c.num_key_value_heads == 3 and c.tie_word_embeddings
                tok = transformers.AutoTokenizer.from_pretrained(sys.argv[1])
                assert tok("The capital of France is").input_ids == [504, 3575, 282, 4649, 314]
                assert tok.eos_token == "<|im_end|>"
            except ImportError:
                pass
            print("mismatches", bad)
            """#
        let r = try Python.run(script, [out, gguf, corpusFile])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("mismatches 0"), "\(r.stdout)")
    }

    @Test(
        "MLX output: Q4_1/Q8_0 transcoded exactly, quantization config per layer; same logits as the GGUF",
        .enabled(if: TestPaths.model(name) != nil))
    func mlx() throws {
        let gguf = try #require(TestPaths.model(Self.name))
        let dir = TestPaths.temporaryDirectory("gguf-import-mlx")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/mlx"
        let result = try Converter.convert(
            ConversionRequest(source: gguf, destination: out, format: .mlx))
        let exact = result.notes.values.filter { $0.hasPrefix("transcoded exactly") }.count
        #expect(exact == 211)
        let got = try Checkpoint.open(out)
        #expect(got.tensor(named: "model.embed_tokens.scales")?.shape == [49152, 18])
        #expect(
            got.tensor(named: "model.layers.0.mlp.down_proj.weight")?.shape == [576, 1536 * 4 / 32])
        let q = try #require(got.metadata["quantization"]?.objectValue)
        #expect(q["bits"]?.intValue == 4 && q["group_size"]?.intValue == 32)
        #expect(q["model.embed_tokens"]?["bits"]?.intValue == 8)
        #expect(got.metadata["quantization_config"] != nil)

        let fromGGUF = try ForwardPass.run(model: gguf, tokens: Self.tokens).floats
        let fromMLX = try ForwardPass.run(model: out, tokens: Self.tokens).floats
        #expect(Self.maxDifference(fromMLX, fromGGUF) < 1e-4)

        if Python.has("mlx_lm") {
            let script = #"""
                import sys, json, numpy as np
                import mlx.core as mx
                from mlx_lm import load
                model, tok = load(sys.argv[1])
                ids = json.loads(sys.argv[2])
                out = np.array(model(mx.array([ids]))[0].astype(mx.float32))
                assert tok.encode("The capital of France is") == ids, tok.encode("The capital of France is")
                print(json.dumps(out.reshape(-1).tolist()))
                """#
            let ids = "[" + Self.tokens.map(String.init).joined(separator: ",") + "]"
            let r = try Python.run(script, [out, ids])
            try #require(r.status == 0, "\(r.stderr)")
            let values =
                try JSON.parse(r.stdout).arrayValue?.compactMap { $0.doubleValue.map(Float.init) }
                ?? []
            #expect(values.count == fromGGUF.count)
            // mlx-lm's own kernels on the same affine groups.
            #expect(Self.maxDifference(values, fromGGUF) < 2e-3)
        }
    }

    /// Our tensors and config against what transformers' own GGUF loader made of the same file
    /// (make_gguf_import.py: SHA-256 of each float32 tensor), bit for bit; hashed by Python's
    /// hashlib over safetensors' numpy view (no torch needed).
    func expectTransformersTensors(_ out: String) throws {
        guard Python.available else { return }
        let reference = try JSON.parse(
            try String(
                contentsOfFile: TestPaths.fixture("models/smollm2_transformers_gguf.json"),
                encoding: .utf8))
        let script = #"""
            import sys, json, hashlib, numpy as np
            from safetensors.numpy import load_file
            t = load_file(sys.argv[1] + "/model.safetensors")
            print(json.dumps({k: hashlib.sha256(np.ascontiguousarray(v).astype("<f4").tobytes()).hexdigest()
                              for k, v in t.items()}))
            """#
        let r = try Python.run(script, [out])
        try #require(r.status == 0, "\(r.stderr)")
        let ours = try #require(try JSON.parse(r.stdout).objectValue)
        let want = try #require(reference["tensors"]?.objectValue)
        #expect(Set(ours.keys) == Set(want.keys))
        for (name, entry) in want {
            #expect(ours[name]?.stringValue == entry["sha256"]?.stringValue, "\(name)")
        }
        let config = try Checkpoint.open(out).metadata
        for (key, value) in try #require(reference["config"]?.objectValue) {
            if let d = value.doubleValue, value.intValue == nil {
                #expect(config[key]?.doubleValue.map(Float.init) == Float(d), "\(key)")
            } else {
                #expect(config[key] == value, "\(key)")
            }
        }
    }
}

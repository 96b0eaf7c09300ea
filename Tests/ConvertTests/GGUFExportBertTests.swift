import Foundation
import Testing
import Compute
import Formats
import TestSupport
import Verify
@testable import Convert

/// all-MiniLM-L6-v2 (BertModel) → GGUF arch `bert`, against llama.cpp.
@Suite("HF to GGUF export: BERT")
struct GGUFExportBertTests {
    static let model = "all-minilm-l6-v2"
    static let enabled = TestPaths.model(model) != nil && Python.has("llama_cpp")

    static let exported: Result<String, any Error> = Result {
        guard let dir = TestPaths.model(model) else { throw ConvertError("no model") }
        let out = TestPaths.temporaryDirectory("ckpt-ggufout-bert") + "/minilm.gguf"
        _ = try Converter.convert(ConversionRequest(source: dir, destination: out))
        return out
    }

    @Test(
        "names, F32 norms/biases/token types, hparams and the phantom-space vocabulary",
        .enabled(if: enabled))
    func layout() throws {
        let file = try GGUFFile(path: try Self.exported.get())
        #expect(file.metadata["general.architecture"] == .string("bert"))
        #expect(file.metadata["bert.attention.causal"] == .bool(false))
        #expect(file.metadata["bert.pooling_type"] == .uint32(1))
        #expect(file.metadata["bert.attention.layer_norm_epsilon"] == .float32(1e-12))
        #expect(file.metadata["tokenizer.ggml.model"] == .string("bert"))
        #expect(file.metadata["tokenizer.ggml.bos_token_id"] == .uint32(101))
        #expect(file.metadata["tokenizer.ggml.seperator_token_id"] == .uint32(102))
        let tokens = try #require(file.metadata["tokenizer.ggml.tokens"]?.arrayValue)
        #expect(tokens[101] == .string("[CLS]"))
        #expect(tokens[7592] == .string("\u{2581}hello"))
        #expect(file.tensor(named: "token_types.weight")?.type == .dense(.f32))
        #expect(file.tensor(named: "blk.5.layer_output_norm.bias")?.shape == [384])
        #expect(file.tensor(named: "blk.0.ffn_up.weight")?.shape == [1536, 384])
        #expect(
            !file.tensors.contains {
                $0.name.contains("pooler") || $0.name.contains("position_ids")
            })
    }

    @Test(
        "llama.cpp tokenizes like tokenizer.json and its hidden states equal the engine's",
        .enabled(if: enabled))
    func llamaCppRuns() throws {
        let out = try Self.exported.get()
        let dir = try #require(TestPaths.model(Self.model))
        let text = "Hello world, this is a test of the BERT export."
        let ids = try Tokenizers.load(modelDirectory: dir).encode(text, addSpecialTokens: true)
        let npy = out + ".hidden.npy"
        let script = """
            import sys, json, numpy as np, llama_cpp
            m = llama_cpp.Llama(model_path=sys.argv[1], embedding=True, pooling_type=0, n_ctx=128,
                                type_k=0, type_v=0, verbose=False)
            ids = m.tokenize(sys.argv[2].encode(), add_bos=True)
            print(json.dumps(ids))
            np.save(sys.argv[3], np.array(m.embed(sys.argv[2], normalize=False), dtype=np.float32))
            """
        let r = try Python.run(script, [out, text, npy])
        try #require(r.status == 0, "\(r.stderr.suffix(2000))")
        let theirIDs = try JSONDecoder().decode([Int].self, from: Data(r.stdout.utf8))
        #expect(theirIDs == ids)
        let hidden = try NPYFile(path: npy)
        let info = try #require(hidden.tensors.first)
        let theirs = try hidden.bytes(of: info).withBytes { Array($0.bindMemory(to: Float.self)) }
        let ours = try ForwardPass.run(model: dir, tokens: ids.map { Int32($0) }).floats
        try #require(ours.count == theirs.count)
        let scale = theirs.map(abs).max() ?? 1
        let worst = zip(ours, theirs).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-3 * scale, "max |Δ| \(worst / scale) of max |h|")
    }
}

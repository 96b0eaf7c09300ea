import Foundation
import Formats
import TestSupport
import Testing

@testable import Convert
@testable import Verify

/// A GGUF-like source held in memory: metadata and F32 tensors.
struct MemoryGGUF: TensorSource {
    var metadata: Metadata
    var tensors: [TensorInfo]
    var data: [String: ByteBuffer]
    var format: CheckpointFormat { .gguf }

    func bytes(of tensor: TensorInfo) throws(FormatError) -> ByteSlice {
        guard let b = data[tensor.name] else {
            throw FormatError(.invalid("absent"), field: tensor.name)
        }
        return b.all
    }

    /// A 1-layer llama (hidden 8, 2 heads, 1 kv head) with the given tensors (F32, values
    /// 0, 1, 2, … so rows are recognisable).
    static func llama(_ shapes: [(String, [Int])], arch: String = "llama") -> MemoryGGUF {
        var m = Metadata()
        m["general.architecture"] = .string(arch)
        for (k, v) in [
            ("block_count", 1), ("embedding_length", 8), ("feed_forward_length", 16),
            ("attention.head_count", 2), ("attention.head_count_kv", 1), ("context_length", 32),
            ("vocab_size", 4),
        ] {
            m["\(arch).\(k)"] = .uint32(UInt32(v))
        }
        m["\(arch).attention.layer_norm_rms_epsilon"] = .float32(1e-5)
        var tensors: [TensorInfo] = []
        var data: [String: ByteBuffer] = [:]
        for (name, shape) in shapes {
            let n = shape.reduce(1, *)
            let values = (0..<n).map { Float($0) }
            guard let info = TensorInfo(name: name, type: .dense(.f32), shape: shape) else {
                continue
            }
            tensors.append(info)
            data[name] = values.withUnsafeBytes { ByteBuffer(copying: $0) }
        }
        return MemoryGGUF(metadata: m, tensors: tensors, data: data)
    }
}

@Suite("GGUF import: names, layout, RoPE, errors")
struct GGUFImportUnitTests {
    @Test("Every table name maps to GGUF and back; non-canonical layer numbers are refused")
    func names() {
        var all = LlamaConfiguration.ggufGlobalNames.map(\.huggingFace)
        for (hf, _) in LlamaConfiguration.ggufLayerNames {
            all += ["model.layers.0.\(hf).weight", "model.layers.17.\(hf).bias"]
        }
        for name in all {
            let g = LlamaConfiguration.ggufName(name)
            #expect(g != name)
            #expect(LlamaConfiguration.huggingFaceName(gguf: g) == name)
        }
        #expect(LlamaConfiguration.huggingFaceName(gguf: "blk.01.attn_q.weight") == nil)
        #expect(LlamaConfiguration.huggingFaceName(gguf: "blk.+1.attn_q.weight") == nil)
        #expect(LlamaConfiguration.huggingFaceName(gguf: "blk.1.attn_qq.weight") == nil)
        #expect(LlamaConfiguration.huggingFaceName(gguf: "rope_freqs.weight") == nil)
    }

    @Test("q/k rows come back in half-split order (inverse of convert_hf_to_gguf's permute)")
    func unpermute() throws {
        let source = MemoryGGUF.llama([
            ("token_embd.weight", [4, 8]), ("blk.0.attn_q.weight", [8, 8]),
            ("blk.0.attn_k.weight", [4, 8]),
            ("blk.0.attn_q.bias", [8]),
        ])
        let imported = try GGUFImportSource(gguf: source, file: "mem.gguf")
        // permute: GGUF row h*D + 2j + i holds HF row h*D + i*D/2 + j. Stored rows are 0, 1, …
        // so HF row r must hold the stored row p(r).
        func stored(forHF r: Int, headRows d: Int) -> Int {
            let h = r / d, within = r % d, i = within / (d / 2), j = within % (d / 2)
            return h * d + 2 * j + i
        }
        for (name, rows, width, d) in [
            ("model.layers.0.self_attn.q_proj.weight", 8, 8, 4),
            ("model.layers.0.self_attn.k_proj.weight", 4, 8, 4),
            ("model.layers.0.self_attn.q_proj.bias", 8, 1, 4),
        ] {
            let t = try #require(imported.tensor(named: name))
            let slice = try imported.bytes(of: t)
            let floats = slice.withBytes { Array($0.bindMemory(to: Float.self)) }
            for r in 0..<rows {
                #expect(
                    floats[r * width] == Float(stored(forHF: r, headRows: d) * width),
                    "\(name) row \(r)")
            }
        }
        let embed = try #require(imported.tensor(named: "model.embed_tokens.weight"))
        #expect(try imported.bytes(of: embed) == source.bytes(of: source.tensors[0]))
    }

    @Test("qwen2 keeps its rows; rope_freqs is dropped with a note")
    func qwen2AndRopeFreqs() throws {
        let q = MemoryGGUF.llama([("blk.0.attn_q.weight", [8, 8])], arch: "qwen2")
        let imported = try GGUFImportSource(gguf: q, file: "q.gguf")
        let t = try #require(imported.tensor(named: "model.layers.0.self_attn.q_proj.weight"))
        #expect(try imported.bytes(of: t) == q.bytes(of: q.tensors[0]))
        let l = MemoryGGUF.llama([("rope_freqs.weight", [2]), ("output_norm.weight", [8])])
        let i2 = try GGUFImportSource(gguf: l, file: "l.gguf")
        #expect(i2.tensors.map(\.name) == ["model.norm.weight"])
        #expect(i2.dropped["rope_freqs.weight"] != nil)
    }

    @Test(
        "A tensor with no Hugging Face name, or q rows that are not whole heads, is an error naming it"
    )
    func errors() {
        let unknown = MemoryGGUF.llama([("blk.0.attn_sinks.weight", [8])])
        #expect {
            try GGUFImportSource(gguf: unknown, file: "u.gguf")
        } throws: { e in
            (e as? FormatError)?.field == "blk.0.attn_sinks.weight" && "\(e)".contains("u.gguf")
        }
        let ragged = MemoryGGUF.llama([("blk.0.attn_q.weight", [6, 8])])
        #expect {
            try GGUFImportSource(gguf: ragged, file: "r.gguf")
        } throws: { e in
            (e as? FormatError)?.field == "blk.0.attn_q.weight"
        }
    }

    struct RopeCase: Sendable, CustomTestStringConvertible {
        var p: Llama3RopeRecovery.Parameters
        var theta: Double
        var dim: Int
        var testDescription: String {
            "factor \(p.factor) high \(p.high) old \(p.originalContext) dim \(dim)"
        }
        init(_ f: Double, _ high: Double, _ old: Int, _ theta: Double, _ dim: Int) {
            p = .init(factor: f, low: 1, high: high, originalContext: old)
            self.theta = theta
            self.dim = dim
        }
    }

    @Test(
        "Llama 3 rope_scaling is recovered from the divisors llama.cpp's converter writes",
        arguments: [
            RopeCase(8, 4, 8192, 500000, 128), RopeCase(32, 4, 8192, 500000, 64),
            RopeCase(8, 4, 16, 500000, 16), RopeCase(16, 2, 4096, 10000, 128),
        ])
    func llama3(_ c: RopeCase) throws {
        let divisors = Llama3RopeRecovery.divisors(c.p, theta: c.theta, dimension: c.dim)
        let got = try #require(
            Llama3RopeRecovery.recover(divisors: divisors, theta: c.theta, dimension: c.dim))
        #expect(got == c.p)
    }

    @Test("Divisors of no Llama 3 form are not passed off as one")
    func llama3Refused() {
        var d = Llama3RopeRecovery.divisors(
            .init(factor: 8, low: 1, high: 4, originalContext: 8192), theta: 500000, dimension: 128)
        d[40] *= 1.5
        #expect(Llama3RopeRecovery.recover(divisors: d, theta: 500000, dimension: 128) == nil)
        #expect(
            Llama3RopeRecovery.recover(divisors: [1, 1, 1], theta: 500000, dimension: 6) == nil)
        #expect(Llama3RopeRecovery.recover(divisors: [.nan, 2], theta: 10000, dimension: 4) == nil)
    }

    @Test(
        "SentencePiece merges are ranked by score, then piece lengths, as generate_merges ranks them"
    )
    func sentencePieceMerges() {
        let tokens = ["a", "b", "c", "ab", "bc", "abc", "▁", "▁a"]
        let scores: [Double] = [0, 0, 0, -1, -2, -3, 0, -0.5]
        let merges = SentencePieceMerges.generate(tokens: tokens, scores: scores)
        #expect(merges.map { "\($0.0) \($0.1)" } == ["▁ a", "a b", "b c", "ab c", "a bc"])
    }

    @Test("Flipped or cut bytes of a real GGUF: importing either works or throws FormatError")
    func robustness() throws {
        let path = TestPaths.fixture("models/llama_gqa.gguf")
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // The header (metadata and tensor infos) is the first ~1.5 KB; data after it.
        var variants: [[UInt8]] = []
        for position in stride(from: 0, to: min(original.count, 2048), by: 7) {
            var b = original
            b[position] ^= 0xFF
            variants.append(b)
        }
        for cut in [0, 8, 24, 100, 700, 1500, original.count / 2, original.count - 1] {
            variants.append(Array(original.prefix(cut)))
        }
        var imported = 0
        for bytes in variants {
            guard let gguf = try? GGUFFile(buffer: ByteBuffer(copying: bytes, name: "fuzz.gguf"))
            else {
                continue
            }
            do {
                let source = try GGUFImportSource(gguf: gguf, file: "fuzz.gguf")
                for t in source.tensors { _ = try source.bytes(of: t) }
                imported += 1
            } catch {
                // Typed throws: only a FormatError (file, offset, field) can arrive here.
                #expect(!error.description.isEmpty)
            }
        }
        #expect(imported > 0)
    }
}

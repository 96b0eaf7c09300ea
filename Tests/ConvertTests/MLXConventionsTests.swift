import Foundation
import Testing
import Formats
import TestSupport
@testable import Convert

/// mlx-lm's conventions that the tiny fixtures cannot reach: shards past the limit, the
/// module order, sanitize and dtype rules, the permutation of convolution weights.
@Suite("MLX conventions")
struct MLXConventionsTests {
    static let shardCases: [(limit: Int, sizes: [Int])] = [
        (5, [3, 3, 10, 2]), (5, [2, 2, 10, 1, 1, 5, 0]), (8, [8, 1, 7, 9, 4, 4]), (4, [1]),
    ]

    @Test("shards group tensors as mlx_lm.utils.make_shards does", arguments: shardCases.indices)
    func shards(_ i: Int) throws {
        let (limit, sizes) = Self.shardCases[i]
        let plan = try sizes.enumerated().map { k, n in
            try #require(TensorInfo(name: "t\(k)", type: .dense(.u8), shape: [n]))
        }
        let ours = MLXDirectoryWriter.shards(of: plan, maxShardBytes: limit)
        guard Python.available, Python.has("mlx_lm") else { return }
        let r = try Python.run(
            "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
            [
                TestPaths.fixture("make_mlx_convert.py"), "shards", String(limit),
                sizes.map(String.init).joined(separator: ","),
            ])
        try #require(r.status == 0, "\(r.stderr)")
        let theirs = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[Int]]
        #expect(ours == theirs)
    }

    @Test("module order is mlx-lm's parameter order; unknown names follow in source order")
    func moduleOrder() throws {
        let names = [
            "lm_head.weight", "model.layers.10.mlp.up_proj.weight", "extra.a",
            "model.layers.2.self_attn.q_proj.bias",
            "model.norm.weight", "model.layers.2.self_attn.q_proj.weight",
            "model.embed_tokens.weight",
            "model.layers.2.input_layernorm.weight", "model.layers.2.mlp.down_proj.weight",
            "extra.b",
        ]
        let tensors = try names.map {
            try #require(TensorInfo(name: $0, type: .dense(.f32), shape: [1]))
        }
        #expect(
            MLXLMConventions.moduleOrder(tensors).map(\.name) == [
                "model.embed_tokens.weight", "model.layers.2.self_attn.q_proj.weight",
                "model.layers.2.self_attn.q_proj.bias", "model.layers.2.mlp.down_proj.weight",
                "model.layers.2.input_layernorm.weight", "model.layers.10.mlp.up_proj.weight",
                "model.norm.weight",
                "lm_head.weight", "extra.a", "extra.b",
            ])
    }

    @Test(
        "sanitize drops rotary inv_freq, and lm_head when tied (mlx-lm's default for llama is tied)"
    )
    func sanitize() throws {
        let tensors = try [
            "lm_head.weight", "model.layers.0.self_attn.rotary_emb.inv_freq", "model.norm.weight",
        ].map {
            try #require(TensorInfo(name: $0, type: .dense(.f32), shape: [1]))
        }
        let untied: Metadata = [
            "model_type": .string("llama"), "tie_word_embeddings": .bool(false),
        ]
        let defaulted: Metadata = ["model_type": .string("llama")]
        let other: Metadata = ["model_type": .string("gpt2")]
        #expect(
            MLXLMConventions.sanitize(tensors, config: untied).map(\.name) == [
                "lm_head.weight", "model.norm.weight",
            ])
        #expect(
            MLXLMConventions.sanitize(tensors, config: defaulted).map(\.name) == [
                "model.norm.weight"
            ])
        #expect(
            MLXLMConventions.sanitize(tensors, config: other).map(\.name) == [
                "lm_head.weight", "model.norm.weight",
            ])
    }

    @Test(
        "the dtype comes from torch_dtype, else text_config.dtype, never from transformers-5's top-level dtype"
    )
    func defaultDType() {
        #expect(MLXLMConventions.defaultDType(["torch_dtype": .string("bfloat16")]) == .bf16)
        #expect(MLXLMConventions.defaultDType(["dtype": .string("bfloat16")]) == nil)
        #expect(
            MLXLMConventions.defaultDType(["text_config": .object(["dtype": .string("float16")])])
                == .f16)
        #expect(MLXLMConventions.defaultDType(["torch_dtype": .string("int8")]) == nil)
    }

    @Test(
        "permuting to MLX and back restores a convolution weight",
        arguments: [[4, 3, 5], [4, 3, 2, 5], [2, 3, 2, 2, 3]])
    func permuteRoundTrip(_ shape: [Int]) throws {
        let n = shape.reduce(1, *)
        let values = (0..<n).map { Float($0) }
        var mlx = [Float](repeating: -1, count: n)
        var back = [Float](repeating: -1, count: n)
        let toMLX = ConvLayout.permutation(rank: shape.count, to: .mlx)
        try values.withUnsafeBytes { src in
            try mlx.withUnsafeMutableBytes { dst in
                try ConvLayout.permute(
                    src, shape: shape, elementSize: 4, permutation: toMLX, into: dst)
            }
        }
        // Element (o, i, k...) of the source is element (o, k..., i) of the MLX layout.
        let inner = shape.dropFirst(2).reduce(1, *)
        let i = 1, k = inner - 1
        #expect(mlx[k * shape[1] + i] == values[i * inner + k])
        let mlxShape = toMLX.map { shape[$0] }
        try mlx.withUnsafeBytes { src in
            try back.withUnsafeMutableBytes { dst in
                try ConvLayout.permute(
                    src, shape: mlxShape, elementSize: 4,
                    permutation: ConvLayout.permutation(rank: shape.count, to: .pytorch), into: dst)
            }
        }
        #expect(back == values)
    }
}

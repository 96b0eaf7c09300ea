import Catalog
import Formats
import Testing

@Suite("Checkpoint description")
struct CheckpointDescriptionTests {
    /// An MLX 4-bit g64 linear of shape [out, in]: U32 [out, in/8], scales/biases [out, in/64].
    static func mlxLinear(_ name: String, out: Int, in inDim: Int, bits: Int = 4, group: Int = 64)
        -> [TensorInfo]
    {
        let packed = inDim * bits / 32
        return [
            TensorInfo(
                name: name + ".weight", type: .dense(.u32), shape: [out, packed],
                byteCount: out * packed * 4),
            TensorInfo(
                name: name + ".scales", type: .dense(.bf16), shape: [out, inDim / group],
                byteCount: out * inDim / group * 2),
            TensorInfo(
                name: name + ".biases", type: .dense(.bf16), shape: [out, inDim / group],
                byteCount: out * inDim / group * 2),
        ]
    }

    @Test("MLX affine weights count unpacked; scales and biases are not parameters")
    func mlxAffine() {
        var q = Metadata()
        q["group_size"] = .int64(64)
        q["bits"] = .int64(4)
        q["model.layers.0.down"] = .object(["group_size": .int64(64), "bits": .int64(8)])
        let config: Metadata = [
            "model_type": .string("llama"), "quantization": .object(q),
        ]
        let tensors =
            Self.mlxLinear("model.layers.0.up", out: 128, in: 256)
            + Self.mlxLinear("model.layers.0.down", out: 256, in: 128, bits: 8)
            + [
                TensorInfo(
                    name: "model.norm.weight", type: .dense(.bf16), shape: [256], byteCount: 512)
            ]
        let d = CheckpointDescription(
            source: FakeSource(format: .mlx, metadata: config, tensors: tensors))
        #expect(d.parameters == 128 * 256 + 256 * 128 + 256)
        #expect(d.quantization == "affine 4-bit g64, 1 layer override")
        #expect(d.architecture == "llama")
        #expect(d.dtype == "BF16")
        #expect(d.format == .mlx)
    }

    @Test("without bits, unpacked counts come from the scales' shape and the group size")
    func mlxFromShapes() {
        let config: Metadata = [
            "quantization": .object(["group_size": .int64(32), "mode": .string("mxfp4")])
        ]
        let tensors = Self.mlxLinear("l", out: 4, in: 64, bits: 4, group: 32)
        let d = CheckpointDescription(
            source: FakeSource(format: .mlx, metadata: config, tensors: tensors))
        #expect(d.parameters == 4 * 64)
        #expect(d.quantization == "mxfp4 g32")
    }

    @Test(
        "GGUF: the file type names the preset, else the dominant block type",
        arguments: [
            (MetadataValue?.some(.uint32(15)), "Q4_K_M"),
            (MetadataValue?.some(.uint32(1)), "Q6_K"),
            (MetadataValue?.none, "Q6_K"),
        ])
    func gguf(fileType: MetadataValue?, expected: String) {
        var m: Metadata = ["general.architecture": .string("llama")]
        if let fileType { m["general.file_type"] = fileType }
        let tensors = [
            TensorInfo(name: "a", type: .ggml(.Q4_K), shape: [2, 256], byteCount: 288),
            TensorInfo(name: "b", type: .ggml(.Q6_K), shape: [4, 256], byteCount: 840),
            TensorInfo(name: "n", type: .dense(.f32), shape: [256], byteCount: 1024),
        ]
        let d = CheckpointDescription(
            source: FakeSource(format: .gguf, metadata: m, tensors: tensors))
        #expect(d.quantization == expected)
        #expect(d.parameters == 512 + 1024 + 256)
        #expect(d.dtype == "F32")
        #expect(d.architecture == "llama")
        #expect(d.tensorBytes == 288 + 840 + 1024)
    }

    @Test("dtype mix is ordered by bytes; integers are not dtypes; architectures[0] as fallback")
    func dtypeMix() {
        let m: Metadata = ["architectures": .array([.string("BertModel")])]
        let tensors = [
            TensorInfo(name: "a", type: .dense(.f32), shape: [10], byteCount: 40),
            TensorInfo(name: "b", type: .dense(.f16), shape: [100], byteCount: 200),
            TensorInfo(name: "ids", type: .dense(.i64), shape: [100], byteCount: 800),
        ]
        let d = CheckpointDescription(
            source: FakeSource(format: .hf, metadata: m, tensors: tensors))
        #expect(d.dtype == "F16+F32")
        #expect(d.quantization == nil)
        #expect(d.architecture == "BertModel")
        #expect(d.parameters == 210)
    }

    @Test("hostile sizes saturate instead of trapping")
    func hostileSizes() {
        let big = TensorInfo(
            name: "w", type: .dense(.u32), shape: [Int.max / 2, 4], byteCount: Int.max)
        let scales = TensorInfo(
            name: "w.scales", type: .dense(.f16), shape: [Int.max / 2, 1], byteCount: Int.max)
        let config: Metadata = [
            "quantization": .object(["bits": .int64(4), "group_size": .int64(64)])
        ]
        let d = CheckpointDescription(
            source: FakeSource(
                format: .mlx, metadata: config,
                tensors: [
                    TensorInfo(
                        name: "w.weight", type: .dense(.u32), shape: [Int.max / 2, 4],
                        byteCount: Int.max), scales, big,
                ]))
        #expect(d.tensorBytes == Int.max)
        #expect(d.parameters >= 0)
    }
}

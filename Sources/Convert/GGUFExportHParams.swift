import Foundation
import Formats
import Verify

/// The hparams metadata llama.cpp's converter writes for a LLaMA-family model
/// (`TextModel.set_gguf_parameters` + `LlamaModel`'s additions, formats-gguf.md §4.1, §4.4),
/// in its key order and with the value types llama.cpp requires: counts `u32`, epsilons and
/// the RoPE base `f32`.
enum GGUFExportHParams {
    /// `general.*` and `{arch}.*` keys, ending with `general.quantization_version`.
    static func metadata(
        architecture arch: String, config: LlamaConfiguration, configuration: Metadata,
        name: String, fileType: UInt32
    ) -> Metadata {
        func u32(_ v: Int) -> MetadataValue { .uint32(UInt32(clamping: v)) }
        var m = Metadata()
        m["general.architecture"] = .string(arch)
        m["general.type"] = .string("model")
        m["general.name"] = .string(name)
        m["\(arch).block_count"] = u32(config.layerCount)
        if let n = configuration["max_position_embeddings"]?.intValue {
            m["\(arch).context_length"] = .uint32(UInt32(clamping: n))
        }
        m["\(arch).embedding_length"] = u32(config.hiddenSize)
        m["\(arch).feed_forward_length"] = u32(config.intermediateSize)
        m["\(arch).attention.head_count"] = u32(config.headCount)
        if configuration["num_key_value_heads"]?.intValue != nil {
            m["\(arch).attention.head_count_kv"] = u32(config.kvHeadCount)
        }
        if case .linear(let factor) = config.rope.scaling {
            m["\(arch).rope.scaling.type"] = .string("linear")
            m["\(arch).rope.scaling.factor"] = .float32(factor)
        }
        m["\(arch).rope.freq_base"] = .float32(Float(config.rope.theta))
        m["\(arch).attention.layer_norm_rms_epsilon"] = .float32(config.rmsNormEpsilon)
        if configuration["head_dim"]?.intValue != nil {
            m["\(arch).attention.key_length"] = u32(config.headDimension)
            m["\(arch).attention.value_length"] = u32(config.headDimension)
        }
        m["general.file_type"] = .uint32(fileType)
        if arch == "llama" {
            m["llama.vocab_size"] = u32(config.vocabularySize)
            m["llama.rope.dimension_count"] = u32(config.headDimension)
        }
        m["general.quantization_version"] = .uint32(2)
        return m
    }

    /// llama.cpp's `llama_ftype` of the 2-D tensors' type: F32 0, F16 1, BF16 32 (the
    /// converter's `--outtype`; a mixed file is described by its most common type).
    static func fileType(_ tensors: [TensorInfo]) -> UInt32 {
        var counts: [TensorType: Int] = [:]
        for t in tensors where t.shape.count >= 2 { counts[t.type, default: 0] += 1 }
        let common = counts.max { $0.value < $1.value }?.key
        switch common {
        case .dense(.f16)?: return 1
        case .dense(.bf16)?: return 32
        default: return 0
        }
    }

    /// `rope_freqs.weight` for Llama 3 scaling (`LlamaModel.generate_extra_tensors`): per
    /// rotated pair, the factor its inverse frequency is divided by, in float32.
    static func llama3RopeFactors(_ config: LlamaConfiguration) -> [Float] {
        guard case .llama3(let factor, let low, let high, let old) = config.rope.scaling else {
            return []
        }
        let dim = config.headDimension
        let base = Float(config.rope.theta)
        let lowWavelength = old / low
        let highWavelength = old / high
        return stride(from: 0, to: dim, by: 2).map { i -> Float in
            // torch: 1 / base ** (arange(0, dim, 2, float32) / dim), all float32.
            let freq = 1 / Float(pow(Double(base), Double(Float(i) / Float(dim))))
            let wavelength = 2 * Float.pi / freq
            if wavelength < highWavelength { return 1 }
            if wavelength > lowWavelength { return factor }
            let smooth = (old / wavelength - low) / (high - low)
            return 1 / ((1 - smooth) / factor + smooth)
        }
    }
}

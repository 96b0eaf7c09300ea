import Formats

/// GGUF names and hyper-parameters of the LLaMA family (formats-gguf.md §4.2-4.4, §4.6).
extension LlamaConfiguration {
    /// llama.cpp's tensor of Llama 3 frequency divisors (§4.4), read into the RoPE settings.
    public static let ggufRopeFrequencies = "rope_freqs.weight"

    /// Hugging Face ↔ GGUF names of the model-wide tensors (gguf-py `tensor_mapping.py`).
    public static let ggufGlobalNames: [(huggingFace: String, gguf: String)] = [
        ("model.embed_tokens.weight", "token_embd.weight"),
        ("model.norm.weight", "output_norm.weight"),
        ("lm_head.weight", "output.weight"),
    ]

    /// Hugging Face ↔ GGUF names of the per-layer modules (`model.layers.N.<hf>` ↔
    /// `blk.N.<gguf>`, each with `.weight` or `.bias`): one table read in both directions by
    /// `ggufName(_:)` and `huggingFaceName(gguf:)`.
    public static let ggufLayerNames: [(huggingFace: String, gguf: String)] = [
        ("input_layernorm", "attn_norm"), ("self_attn.q_proj", "attn_q"),
        ("self_attn.k_proj", "attn_k"), ("self_attn.v_proj", "attn_v"),
        ("self_attn.o_proj", "attn_output"), ("post_attention_layernorm", "ffn_norm"),
        ("mlp.gate_proj", "ffn_gate"), ("mlp.up_proj", "ffn_up"), ("mlp.down_proj", "ffn_down"),
    ]

    /// The GGUF name of a Hugging Face LLaMA tensor name (gguf-py `tensor_mapping.py`).
    public static func ggufName(_ name: String) -> String {
        if let g = ggufGlobalNames.first(where: { $0.huggingFace == name }) { return g.gguf }
        let prefix = "model.layers."
        guard name.hasPrefix(prefix) else { return name }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: ".") else { return name }
        let layer = rest[..<dot], member = String(rest[rest.index(after: dot)...])
        for suffix in [".weight", ".bias"] where member.hasSuffix(suffix) {
            let module = member.dropLast(suffix.count)
            if let g = ggufLayerNames.first(where: { $0.huggingFace == module }) {
                return "blk.\(layer).\(g.gguf)\(suffix)"
            }
        }
        return name
    }

    /// The Hugging Face name of a llama.cpp LLaMA tensor name (the inverse of `ggufName`),
    /// nil for a name outside the table (e.g. `rope_freqs.weight`, which has none).
    public static func huggingFaceName(gguf name: String) -> String? {
        if let g = ggufGlobalNames.first(where: { $0.gguf == name }) { return g.huggingFace }
        let prefix = "blk."
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        // Only the canonical spelling of a layer number ("7", not "07" or "+7").
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]), layer >= 0,
            String(layer) == rest[..<dot]
        else { return nil }
        let member = rest[rest.index(after: dot)...]
        for suffix in [".weight", ".bias"] where member.hasSuffix(suffix) {
            let module = member.dropLast(suffix.count)
            if let g = ggufLayerNames.first(where: { $0.gguf == module }) {
                return "model.layers.\(layer).\(g.huggingFace)\(suffix)"
            }
        }
        return nil
    }

    /// The configuration a GGUF of arch `llama` or `qwen2` describes: `{arch}.*` hparams,
    /// the tied output when `output.weight` is absent, biases when `blk.0.attn_q.bias` is
    /// present, Llama 3 RoPE scaling from `rope_freqs.weight`.
    /// - Throws: `FormatError` naming `file` and the key.
    public init(gguf source: any TensorSource, file: String) throws(FormatError) {
        let m = source.metadata
        let archKey = "general.architecture"
        guard let arch = m[archKey]?.stringValue else {
            throw FormatError(.invalid("missing key"), file: file, field: archKey)
        }
        let family: Family
        switch arch {
        case "llama": family = .llama
        case "qwen2": family = .qwen2
        default:
            throw FormatError(
                .unsupported("architecture '\(arch)' (llama and qwen2 are supported)"), file: file,
                field: archKey)
        }
        func int(_ key: String, default d: Int? = nil) throws(FormatError) -> Int {
            let full = "\(arch).\(key)"
            guard let v = m[full] else {
                if let d { return d }
                throw FormatError(.invalid("missing key"), file: file, field: full)
            }
            guard let i = v.intValue, i >= 0, i <= Int64(Self.maxCount) else {
                throw FormatError(
                    .invalid("not a count in 0...\(Self.maxCount)"), file: file, field: full)
            }
            return Int(i)
        }
        func float(_ key: String, default d: Double? = nil) throws(FormatError) -> Double {
            let full = "\(arch).\(key)"
            guard let v = m[full] else {
                if let d { return d }
                throw FormatError(.invalid("missing key"), file: file, field: full)
            }
            guard let x = v.doubleValue, x.isFinite else {
                throw FormatError(.invalid("not a finite number"), file: file, field: full)
            }
            return x
        }
        let hidden = try int("embedding_length")
        let heads = try int("attention.head_count")
        let headDim = try int("attention.key_length", default: heads > 0 ? hidden / heads : 0)
        let rotated = try int("rope.dimension_count", default: headDim)
        guard rotated == headDim else {
            throw FormatError(
                .unsupported("partial rotary embedding (\(rotated) of \(headDim) dims)"),
                file: file,
                field: "\(arch).rope.dimension_count")
        }
        let embed = source.tensor(named: "token_embd.weight")
        let vocab = try int("vocab_size", default: embed?.shape.first ?? 0)
        var rope = RopeConfiguration(theta: try float("rope.freq_base", default: 10000))
        if let type = m["\(arch).rope.scaling.type"]?.stringValue, type != "none" {
            guard type == "linear" else {
                throw FormatError(
                    .unsupported("rope scaling '\(type)'"), file: file,
                    field: "\(arch).rope.scaling.type")
            }
            rope.scaling = .linear(factor: Float(try float("rope.scaling.factor", default: 1)))
        }
        if let freqs = source.tensor(named: Self.ggufRopeFrequencies) {
            guard freqs.type == .dense(.f32), freqs.shape == [headDim / 2] else {
                throw FormatError(
                    .invalid("\(freqs.type) \(freqs.shape), expected F32 [\(headDim / 2)]"),
                    file: file,
                    field: freqs.name)
            }
            let bytes = try source.bytes(of: freqs)
            rope.frequencyDivisors = (0..<(headDim / 2)).map { i in
                Float(
                    bitPattern: bytes.raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
                        .littleEndian)
            }
        }
        let bias = family == .qwen2 || source.tensor(named: "blk.0.attn_q.bias") != nil
        self.init(
            family: family, hiddenSize: hidden, intermediateSize: try int("feed_forward_length"),
            layerCount: try int("block_count"), headCount: heads,
            kvHeadCount: try int("attention.head_count_kv", default: heads), headDimension: headDim,
            vocabularySize: vocab,
            rmsNormEpsilon: Float(try float("attention.layer_norm_rms_epsilon")), rope: rope,
            tieWordEmbeddings: source.tensor(named: "output.weight") == nil, attentionBias: bias,
            outputBias: family != .qwen2 && source.tensor(named: "blk.0.attn_output.bias") != nil)
        try check(file: file)
    }
}

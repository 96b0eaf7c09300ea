import Formats

/// The model facts llama-quantize's rules read (from GGUF hparams or config.json).
public struct GGUFModelShape: Sendable, Hashable {
    public var architecture: String
    public var layerCount: Int
    public var headCount: Int
    public var headCountKV: Int
    public var expertCount: Int

    public init(architecture: String, layerCount: Int, headCount: Int, headCountKV: Int, expertCount: Int = 0) {
        self.architecture = architecture
        self.layerCount = layerCount
        self.headCount = headCount
        self.headCountKV = headCountKV
        self.expertCount = expertCount
    }

    var gqa: Int { headCountKV > 0 ? headCount / headCountKV : 1 }
}

/// A tensor as the rules see it: its GGUF name and row-major shape.
public struct GGUFTensorShape: Sendable, Hashable {
    public var name: String
    public var shape: [Int]
    public init(name: String, shape: [Int]) {
        self.name = name
        self.shape = shape
    }

    /// ggml's `ne[0]`: the row length.
    var rowLength: Int { shape.last ?? 1 }
    /// `ggml_n_dims`: trailing size-1 dimensions (in ggml order) do not count.
    var ggmlDims: Int {
        let ne = Array(shape.reversed())
        var n = 1
        for (i, d) in ne.enumerated() where d > 1 { n = i + 1 }
        return n
    }
}

/// One decision of the rules, with the reason a type was changed after the category rule.
public struct GGUFTypeChoice: Sendable, Hashable {
    public var name: String
    public var type: TensorQuantization
    /// The type the rules chose before the row-length fallback (nil when no fallback).
    public var fallbackFrom: GGMLType?
}

/// llama-quantize's per-tensor type choice (`src/llama-quant.cpp`, formats-gguf.md §3),
/// without an importance matrix.
public enum LlamaQuantizeRules {
    /// The order llama-quantize processes (and writes) tensors in: non-block tensors first,
    /// then `blk.0.*`, `blk.1.*`, …, each group sorted by name (§3.1 step 2).
    public static func order(_ names: [String]) -> [String] {
        names.sorted { a, b in
            let la = layerIndex(a) ?? -1, lb = layerIndex(b) ?? -1
            return la != lb ? la < lb : a.utf8.lexicographicallyPrecedes(b.utf8)
        }
    }

    /// `N` of a `blk.N.` prefix.
    public static func layerIndex(_ name: String) -> Int? {
        guard name.hasPrefix("blk.") else { return nil }
        let rest = name.dropFirst(4)
        guard let dot = rest.firstIndex(of: ".") else { return nil }
        return Int(rest[..<dot])
    }

    /// `tensor_allows_quantization` (§3.2).
    public static func allowsQuantization(_ t: GGUFTensorShape, architecture: String) -> Bool {
        guard t.ggmlDims >= 2, t.name.hasSuffix("weight"), !t.name.contains("_norm.weight") else {
            return false
        }
        let never = [
            "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
            "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
            "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
            "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
            "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
            "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
            "attn_rel_b.weight", ".position_embd", ".rel_pos", ".patch_embd", ".patch_merger",
        ]
        if never.contains(where: { t.name.contains($0) }) { return false }
        if t.name == "position_embd.weight" || t.name == "token_types.weight" { return false }
        return true
    }

    enum Category { case output, tokenEmbedding, attnQKV, attnKVB, attnV, attnK, attnQ, attnOutput, ffnUp, ffnGate, ffnDown, other }

    static func category(_ name: String) -> Category {
        if name == "output.weight" { return .output }
        if name == "token_embd.weight" || name == "per_layer_token_embd.weight" { return .tokenEmbedding }
        let table: [(String, Category)] = [
            ("attn_qkv.weight", .attnQKV), ("attn_kv_b.weight", .attnKVB), ("attn_v.weight", .attnV),
            ("attn_k.weight", .attnK), ("attn_q.weight", .attnQ), ("attn_output.weight", .attnOutput),
            ("ffn_up", .ffnUp), ("ffn_gate", .ffnGate), ("ffn_down", .ffnDown),
        ]
        return table.first { name.contains($0.0) }?.1 ?? .other
    }

    /// `use_more_bits(i, n)`.
    public static func useMoreBits(_ i: Int, _ n: Int) -> Bool {
        i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
    }

    /// `tensor_type_fallback` (§3.5): the type used when a row is not a whole number of blocks.
    static func fallback(_ t: GGMLType) -> GGMLType? {
        switch t {
        case .IQ1_S, .IQ1_M, .IQ2_XXS, .IQ2_XS, .IQ2_S, .IQ3_XXS, .IQ3_S, .IQ4_XS: .IQ4_NL
        case .Q2_0, .Q2_K, .Q3_K, .TQ1_0, .TQ2_0: .Q4_0
        case .Q4_K: .Q5_0
        case .Q5_K: .Q5_1
        case .Q6_K: .Q8_0
        default: nil
        }
    }

    /// Chooses a type for every tensor, in llama-quantize's order. Tensors that may not be
    /// quantized get `.keep`. With `pure`, every other tensor gets the preset's base type
    /// (then the row-length fallback). A row length that no fallback fits is an error naming
    /// the tensor.
    public static func choose(
        preset: GGUFPreset, tensors: [GGUFTensorShape], model: GGUFModelShape, pure: Bool = false
    ) throws(QuantizeError) -> [GGUFTypeChoice] {
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let ordered = order(tensors.map(\.name))
        let nAttentionWV = tensors.filter {
            $0.name.contains("attn_v.weight") || $0.name.contains("attn_qkv.weight") || $0.name.contains("attn_kv_b.weight")
        }.count
        let tied = byName["output.weight"] == nil
        var iAttentionWV = 0
        var iFFNDown = 0
        var choices: [String: GGUFTypeChoice] = [:]
        let base = preset.baseType

        for name in ordered {
            guard let t = byName[name] else { continue }
            guard allowsQuantization(t, architecture: model.architecture) else {
                choices[name] = GGUFTypeChoice(name: name, type: .keep, fallbackFrom: nil)
                continue
            }
            var type = base
            let cat = category(name)
            if preset.isQuantized && !pure {
                type = mixedType(preset: preset, category: cat, tensor: t, tied: tied, model: model,
                                 iAttentionWV: iAttentionWV, nAttentionWV: nAttentionWV, iFFNDown: iFFNDown)
            }
            if cat == .attnV || cat == .attnQKV || cat == .attnKVB { iAttentionWV += 1 }
            if cat == .ffnDown { iFFNDown += 1 }

            var from: GGMLType?
            if type.blockSize > 1, t.rowLength % type.blockSize != 0 {
                guard var fb = fallback(type) else {
                    throw QuantizeError(.shape(
                        "row length \(t.rowLength) is not a multiple of \(type.name)'s block of \(type.blockSize), and \(type.name) has no fallback type"), tensor: name)
                }
                if t.rowLength % fb.blockSize != 0 { fb = .F16 }
                from = type
                type = fb
            }
            choices[name] = GGUFTypeChoice(name: name, type: .ggml(type), fallbackFrom: from)
        }
        return ordered.compactMap { choices[$0] }
    }

    /// The OUTPUT rule: Q8_0 when the row does not fit the base type's blocks, else Q6_K.
    static func outputType(base: GGMLType, tensor: GGUFTensorShape) -> GGMLType {
        if tensor.rowLength % base.blockSize != 0 { return .Q8_0 }
        return base == .Q8_0 ? .Q8_0 : .Q6_K
    }

    /// The category rules of §3.3 for one tensor.
    static func mixedType(
        preset: GGUFPreset, category: Category, tensor: GGUFTensorShape, tied: Bool,
        model: GGUFModelShape, iAttentionWV: Int, nAttentionWV: Int, iFFNDown: Int
    ) -> GGMLType {
        let base = preset.baseType
        let mix = preset.mix
        let n = model.layerCount
        var type = base
        switch category {
        case .output:
            type = outputType(base: base, tensor: tensor)
        case .tokenEmbedding:
            // Tied embeddings double as the output matrix, and take its rule.
            if tied { type = outputType(base: base, tensor: tensor) }
        case .attnV, .attnQKV, .attnKVB:
            switch (base, mix) {
            case (.Q2_K, nil): type = model.gqa >= 4 ? .Q4_K : .Q3_K
            case (.Q2_K, .S?): if model.gqa >= 4 { type = .Q4_K }
            case (.Q3_K, .M?): type = iAttentionWV < 2 ? .Q5_K : .Q4_K
            case (.Q3_K, .L?): type = .Q5_K
            case (.Q4_K, .M?), (.Q5_K, .M?): if useMoreBits(iAttentionWV, nAttentionWV) { type = .Q6_K }
            case (.Q4_K, .S?): if iAttentionWV < 4 { type = .Q5_K }
            default: break
            }
            if model.architecture == "llama", n == 80, model.headCount != model.headCountKV,
                type == .Q3_K || type == .Q4_K
            {
                type = .Q5_K
            }
            if model.expertCount == 8 { type = .Q8_0 }
            // llama.cpp also has an ATTENTION_QKV rule further down its if-chain, but the
            // attn_v-like branch above always catches those tensors first: it never runs.
        case .attnK:
            if model.expertCount == 8 { type = .Q8_0 }
        case .ffnDown:
            let i = model.expertCount > 1 ? (LlamaQuantizeRules.layerIndex(tensor.name) ?? iFFNDown) : iFFNDown
            let falcon = model.architecture == "falcon"
            switch (base, mix) {
            case (.Q2_K, nil): type = .Q3_K
            case (.Q2_K, .S?): if i < n / 8 { type = .Q4_K }
            case (.Q3_K, .M?):
                if falcon { type = useMoreBits(i, n) ? .Q4_K : .Q3_K }
                else { type = i < n / 16 ? .Q5_K : .Q4_K }
            case (.Q3_K, .L?): type = falcon ? .Q4_K : .Q5_K
            case (.Q4_K, .M?):
                if falcon {
                    if i < n / 16 { type = .Q6_K } else if useMoreBits(i, n) { type = .Q5_K }
                } else if useMoreBits(i, n) { type = .Q6_K }
            case (.Q5_K, .M?): if useMoreBits(i, n) { type = .Q6_K }
            case (.Q4_K, .S?): if !falcon && i < n / 8 { type = .Q5_K }
            default: break
            }
        case .attnOutput:
            if model.architecture != "falcon" {
                if model.expertCount == 8 {
                    switch (base, mix) {
                    case (.Q2_K, nil), (.Q3_K, .S?), (.Q3_K, .M?), (.Q4_K, .S?), (.Q4_K, .M?): type = .Q5_K
                    default: break
                    }
                } else {
                    switch (base, mix) {
                    case (.Q2_K, nil): type = .Q3_K
                    case (.Q3_K, .M?): type = .Q4_K
                    case (.Q3_K, .L?): type = .Q5_K
                    default: break
                    }
                }
            }
        case .attnQ, .ffnUp, .ffnGate, .other:
            break
        }
        return type
    }
}

import Formats

/// Chooses each tensor's ggml type the way llama-quantize does (src/llama-quant.cpp at
/// llama.cpp Aug 2026; formats-gguf.md §3), for the K and legacy presets without imatrix.
///
/// Tensor names are GGUF names (`blk.3.attn_v.weight`, `output.weight`); shapes are ckpt's
/// row-major shapes, so ggml's `ne[0]` (the row length) is `shape.last`.
public struct LlamaQuantizePolicy: Sendable {
    /// The file type (`Q4_K_M`, `Q8_0`, …).
    public var preset: GGUFPreset
    /// Nil for a plain tensor file: then every floating tensor of 2+ dimensions whose row is
    /// a whole number of blocks gets the preset's default type and the rest stay (cli.md).
    public var model: GGUFModelInfo?
    /// `--pure`: no mixing rules, every quantizable tensor gets the default type.
    public var pure = false
    /// `--leave-output-tensor`.
    public var leaveOutputTensor = false
    /// `--output-tensor-type`: the type of `output.weight`, ahead of every rule.
    public var outputTensorType: GGMLType?
    /// `--token-embedding-type`: the type of `token_embd.weight`, ahead of every rule.
    public var tokenEmbeddingType: GGMLType?
    /// `--tensor-type PATTERN=TYPE`: the first pattern found in the name wins (regex search).
    public var tensorTypeOverrides: [(pattern: String, type: GGMLType)] = []

    /// A policy for `preset`; `model` nil means a plain tensor file.
    public init(preset: GGUFPreset, model: GGUFModelInfo?) {
        self.preset = preset
        self.model = model
    }

    /// The choices for `tensors`, in their order, and the names that needed a fallback type.
    public struct Plan: Sendable {
        /// One choice per input tensor, in the input order.
        public var choices: [QuantizationChoice]
        /// Tensors whose row length did not fit the chosen block type (llama-quantize warns).
        public var fallbacks: [String]
    }

    /// Plans every tensor. Throws when a tensor needs a fallback that llama-quantize does not
    /// define (its error "no tensor type fallback is defined for type …").
    public func plan(_ tensors: [TensorInfo]) throws(QuantizeError) -> Plan {
        guard let model else { return plainFilePlan(tensors) }
        var choices = [QuantizationChoice](repeating: .keep, count: tensors.count)
        var fallbacks: [String] = []
        let tied = !tensors.contains { $0.name == "output.weight" }
        let nAttentionWV = tensors.filter { t in
            ["attn_v.weight", "attn_qkv.weight", "attn_kv_b.weight"].contains { t.name.contains($0) }
        }.count
        var iAttentionWV = 0, iFFNDown = 0
        let overrides: [(Regex<AnyRegexOutput>, GGMLType)] = try tensorTypeOverrides.map { (o) throws(QuantizeError) in
            do { return (try Regex(o.pattern), o.type) } catch {
                throw QuantizeError(.unsupported("--tensor-type pattern '\(o.pattern)': \(error)"))
            }
        }
        for index in llamaOrder(tensors) {
            let t = tensors[index]
            guard allowsQuantization(t) else { continue }
            let category = Category(t.name)
            if let e = tokenEmbeddingType, category == .tokenEmbedding { choices[index] = .ggml(e); continue }
            if let o = outputTensorType, category == .output { choices[index] = .ggml(o); continue }
            var type = preset.defaultType
            if preset.isQuantized {
                var manual = false
                if let hit = overrides.first(where: { t.name.contains($0.0) }) {
                    type = hit.1
                    manual = true
                }
                if !manual && !pure {
                    type = mixedType(type, t, category, model, tied: tied,
                                     iAttentionWV: &iAttentionWV, nAttentionWV: nAttentionWV, iFFNDown: &iFFNDown)
                }
                let row = t.shape.last ?? 0
                if row % type.blockSize != 0 {
                    fallbacks.append(t.name)
                    type = try Self.fallback(type, name: t.name)
                    if row % type.blockSize != 0 { type = .F16 }
                }
            }
            choices[index] = .ggml(type)
        }
        return Plan(choices: choices, fallbacks: fallbacks)
    }

    /// cli.md's rule for a plain tensor file: floating, 2+ dims, row a whole number of blocks.
    func plainFilePlan(_ tensors: [TensorInfo]) -> Plan {
        let type = preset.defaultType
        let choices: [QuantizationChoice] = tensors.map { t in
            guard case .dense(let d) = t.type, d.isFloatingPoint, t.shape.count >= 2,
                  let row = t.shape.last, row % type.blockSize == 0 else { return .keep }
            return .ggml(type)
        }
        return Plan(choices: choices, fallbacks: [])
    }

    /// The loader's `weights_map` order: by layer (`blk.N.`, −1 when absent), then by name bytes.
    func llamaOrder(_ tensors: [TensorInfo]) -> [Int] {
        func layer(_ name: String) -> Int {
            guard name.hasPrefix("blk."), let n = Int(name.dropFirst(4).prefix { $0 != "." }) else { return -1 }
            return n
        }
        return tensors.indices.sorted { a, b in
            let la = layer(tensors[a].name), lb = layer(tensors[b].name)
            if la != lb { return la < lb }
            return Array(tensors[a].name.utf8).lexicographicallyPrecedes(Array(tensors[b].name.utf8))
        }
    }

    /// `tensor_allows_quantization` (§3.2).
    func allowsQuantization(_ t: TensorInfo) -> Bool {
        guard t.shape.count >= 2 else { return false }
        if case .dense(let d) = t.type, !d.isFloatingPoint { return false }
        let name = t.name
        guard name.hasSuffix("weight"), !name.contains("_norm.weight") else { return false }
        if leaveOutputTensor && name == "output.weight" { return false }
        let excluded = [
            "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
            "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
            "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
            "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
            "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
            "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
            "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos",
            ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
        ]
        if excluded.contains(where: { name.contains($0) }) { return false }
        return name != "position_embd.weight" && name != "token_types.weight"
    }

    /// `tensor_type_fallback` (§3.5), before the F16 last resort.
    static func fallback(_ t: GGMLType, name: String) throws(QuantizeError) -> GGMLType {
        switch t {
        case .IQ1_S, .IQ1_M, .IQ2_XXS, .IQ2_XS, .IQ2_S, .IQ3_XXS, .IQ3_S, .IQ4_XS: return .IQ4_NL
        case .Q2_0, .Q2_K, .Q3_K, .TQ1_0, .TQ2_0: return .Q4_0
        case .Q4_K: return .Q5_0
        case .Q5_K: return .Q5_1
        case .Q6_K: return .Q8_0
        default:
            throw QuantizeError(.unsupported("no tensor type fallback is defined for type \(t.name)"), tensor: name)
        }
    }

    /// `llama_tensor_get_type_impl` for the K and legacy presets (§3.3).
    func mixedType(_ current: GGMLType, _ t: TensorInfo, _ category: Category, _ m: GGUFModelInfo, tied: Bool,
                   iAttentionWV: inout Int, nAttentionWV: Int, iFFNDown: inout Int) -> GGMLType {
        var type = current
        switch category {
        case .output, .tokenEmbedding:
            // Tied embeddings (no output.weight) give token_embd the output's type.
            guard category == .output || tied else { break }
            let nx = t.shape.last ?? 0
            if m.isFalcon || nx % type.blockSize != 0 { type = .Q8_0 }
            else if type != .Q8_0 { type = .Q6_K }
        case .attentionV, .attentionQKV, .attentionKVB:
            let i = iAttentionWV
            switch preset {
            case .Q2_K: type = m.gqa >= 4 ? .Q4_K : .Q3_K
            case .Q2_K_S where m.gqa >= 4: type = .Q4_K
            case .Q3_K_M: type = i < 2 ? .Q5_K : .Q4_K
            case .Q3_K_L: type = .Q5_K
            case .Q4_K_M, .Q5_K_M: if useMoreBits(i, nAttentionWV) { type = .Q6_K }
            case .Q4_K_S: if i < 4 { type = .Q5_K }
            default: break
            }
            if m.is70B && (type == .Q3_K || type == .Q4_K) { type = .Q5_K }
            if m.expertCount == 8 { type = .Q8_0 }
            iAttentionWV += 1
            // (llama.cpp's separate ATTENTION_QKV rule sits after this attn_v-like branch and so
            // never runs; formats-gguf.md §3.3 lists it, the code does not apply it.)
        case .attentionK:
            if m.expertCount == 8 { type = .Q8_0 }
        case .ffnDown:
            let n = m.layerCount
            let i = m.expertCount > 1 ? (layerIndex(t.name) ?? iFFNDown) : iFFNDown
            switch preset {
            case .Q2_K: type = .Q3_K
            case .Q2_K_S: if i < n / 8 { type = .Q4_K }
            case .Q3_K_M: type = i < n / 16 ? .Q5_K : (!m.isFalcon || useMoreBits(i, n)) ? .Q4_K : .Q3_K
            case .Q3_K_L: type = m.isFalcon ? .Q4_K : .Q5_K
            case .Q4_K_M:
                if m.isFalcon { type = i < n / 16 ? .Q6_K : useMoreBits(i, n) ? .Q5_K : .Q4_K }
                else if useMoreBits(i, n) { type = .Q6_K }
            case .Q5_K_M: if useMoreBits(i, n) { type = .Q6_K }
            case .Q4_K_S: if !m.isFalcon && i < n / 8 { type = .Q5_K }
            default: break
            }
            iFFNDown += 1
        case .attentionOutput:
            if !m.isFalcon {
                if m.expertCount == 8 {
                    if [.Q2_K, .Q3_K_S, .Q3_K_M, .Q4_K_S, .Q4_K_M].contains(preset) { type = .Q5_K }
                } else {
                    switch preset {
                    case .Q2_K: type = .Q3_K
                    case .Q3_K_M: type = .Q4_K
                    case .Q3_K_L: type = .Q5_K
                    default: break
                    }
                }
            } else if preset == .Q3_K_L {
                type = .Q4_K
            }
        case .attentionQ, .ffnUp, .ffnGate, .other:
            break
        }
        return type
    }

    /// `tensor_get_category` (§3.3).
    enum Category: Equatable {
        case output, tokenEmbedding, attentionQKV, attentionKVB, attentionV, attentionK, attentionQ
        case attentionOutput, ffnUp, ffnGate, ffnDown, other

        init(_ name: String) {
            if name == "output.weight" { self = .output; return }
            if name == "token_embd.weight" || name == "per_layer_token_embd.weight" { self = .tokenEmbedding; return }
            let table: [(String, Category)] = [
                ("attn_qkv.weight", .attentionQKV), ("attn_kv_b.weight", .attentionKVB), ("attn_v.weight", .attentionV),
                ("attn_k.weight", .attentionK), ("attn_q.weight", .attentionQ), ("attn_output.weight", .attentionOutput),
                ("ffn_up", .ffnUp), ("ffn_gate", .ffnGate), ("ffn_down", .ffnDown),
            ]
            self = table.first { name.contains($0.0) }?.1 ?? .other
        }
    }
}

import Formats

/// mlx-lm's mixed-precision recipes (`mlx_lm.convert --quant-predicate mixed_3_6`): low bits
/// everywhere, high bits for `v_proj` (and `v_a_proj`/`v_b_proj`) and `down_proj` on
/// `useMoreBits` layers and for `lm_head` (mlx-lm 0.32.2 convert.py
/// `mixed_quant_predicate_builder`; later mlx-lm also raises `embed_tokens` and adds
/// mixed_3_5, mixed_3_8, mixed_4_8, which are accepted here with the 0.32.2 rules).
public enum MLXRecipe: String, Sendable, CaseIterable {
    case mixed_2_6, mixed_3_4, mixed_3_5, mixed_3_6, mixed_3_8, mixed_4_6, mixed_4_8

    /// (low, high) bits.
    public var bits: (low: Int, high: Int) {
        switch self {
        case .mixed_2_6: (2, 6)
        case .mixed_3_4: (3, 4)
        case .mixed_3_5: (3, 5)
        case .mixed_3_6: (3, 6)
        case .mixed_3_8: (3, 8)
        case .mixed_4_6: (4, 6)
        case .mixed_4_8: (4, 8)
        }
    }
}

/// Chooses, per tensor, what `mlx_lm.convert -q` would do (formats doc §4.6): quantize the
/// weights of Linear and Embedding layers whose last dimension divides by the group size,
/// skip vision/audio towers, honour per-layer overrides from an mlx `config.json`.
///
/// Names are the Hugging Face / mlx-lm tensor names (`model.layers.0.mlp.down_proj.weight`);
/// overrides are keyed by module path (the name without `.weight`), as in config.json.
public struct MLXQuantizePolicy: Sendable {
    /// Default bits (`--bits`).
    public var bits: Int
    /// Default group size (`--group-size`).
    public var groupSize: Int
    /// A mixed recipe; it needs `layerCount`.
    public var recipe: MLXRecipe?
    /// `len(model.layers)`, for the recipes' `useMoreBits`.
    public var layerCount: Int?
    /// Per-module choices (`"model.layers.0.mlp.down_proj": {"bits": 6, "group_size": 64}` →
    /// `.affine(6, 64)`, `false` → `.keep`), ahead of every other rule.
    public var overrides: [String: QuantizationChoice] = [:]
    /// A plain tensor file (no architecture): every floating tensor of 2+ dimensions whose
    /// last dimension divides by the group size (cli.md).
    public var plainFile = false

    /// Module path substrings mlx-lm / mlx-vlm never quantize (`skip_multimodal_module`).
    public static let skippedModules = ["vision_model", "vision_tower", "vl_connector", "sam_model",
                                        "audio_model", "audio_tower", "code_predictor"]

    /// Validates bits and group size (and that a recipe has its layer count).
    public init(bits: Int = 4, groupSize: Int = 64, recipe: MLXRecipe? = nil, layerCount: Int? = nil) throws(QuantizeError) {
        guard AffineLimits.bits.contains(bits) else {
            throw QuantizeError(.unsupported("affine bits \(bits) (supported: 2, 3, 4, 5, 6, 8)"))
        }
        guard AffineLimits.groupSizes.contains(groupSize) else {
            throw QuantizeError(.unsupported("affine group size \(groupSize) (supported: 32, 64, 128)"))
        }
        if recipe != nil && layerCount == nil {
            throw QuantizeError(.unsupported("recipe \(recipe?.rawValue ?? "") needs the model's layer count"))
        }
        self.bits = bits
        self.groupSize = groupSize
        self.recipe = recipe
        self.layerCount = layerCount
    }

    /// The choice for one tensor.
    public func choice(for t: TensorInfo) -> QuantizationChoice {
        guard case .dense(let dtype) = t.type, AffineLimits.dtypes.contains(dtype), let last = t.shape.last else {
            return .keep
        }
        if plainFile {
            return t.shape.count >= 2 && last % groupSize == 0 ? .affine(bits: bits, groupSize: groupSize) : .keep
        }
        guard t.name.hasSuffix(".weight") else { return .keep }
        let path = String(t.name.dropLast(".weight".count))
        if let o = overrides[path] { return o }
        // Linear and Embedding weights are the 2-D ones (norms are 1-D, convolutions 3-D+).
        guard t.shape.count == 2, !Self.skippedModules.contains(where: { path.contains($0) }) else { return .keep }
        guard last % groupSize == 0 else { return .keep }
        guard let recipe, let n = layerCount else { return .affine(bits: bits, groupSize: groupSize) }
        let i = layerIndex(path) ?? 0
        let isV = path.contains("v_proj") || path.contains("v_a_proj") || path.contains("v_b_proj")
        if useMoreBits(i, n) && (isV || path.contains("down_proj")) {
            return .affine(bits: recipe.bits.high, groupSize: groupSize)
        }
        if path.contains("lm_head") { return .affine(bits: recipe.bits.high, groupSize: groupSize) }
        return .affine(bits: recipe.bits.low, groupSize: groupSize)
    }

    /// Per-layer entries for config.json's `quantization` block: every quantized module when a
    /// recipe chose (mlx-lm records the predicate's dict), overridden modules always.
    public func configEntries(_ tensors: [TensorInfo]) -> [(module: String, choice: QuantizationChoice)] {
        tensors.compactMap { t in
            guard t.name.hasSuffix(".weight") else { return nil }
            let path = String(t.name.dropLast(".weight".count))
            let c = choice(for: t)
            if overrides[path] != nil || (recipe != nil && c != .keep) { return (path, c) }
            return nil
        }
    }
}

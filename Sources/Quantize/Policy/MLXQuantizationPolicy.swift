import Formats

/// mlx-lm's mixed-precision recipes (`mlx_lm.convert --quant-predicate`): `v_proj` and
/// `down_proj` of the `use_more_bits` layers and `lm_head` at high bits, the rest at low bits.
public enum MLXRecipe: String, Sendable, CaseIterable {
    case mixed_2_6, mixed_3_4, mixed_3_6, mixed_4_6

    public var lowBits: Int {
        switch self {
        case .mixed_2_6: 2
        case .mixed_3_4, .mixed_3_6: 3
        case .mixed_4_6: 4
        }
    }

    public var highBits: Int { self == .mixed_3_4 ? 4 : 6 }
}

/// Which tensors MLX affine quantization touches, and with which bits and group size,
/// following `mlx_lm.utils.quantize_model` and `mlx_lm.convert.mixed_quant_predicate_builder`
/// (mlx-lm 0.32).
///
/// A tensor is quantized when it is the weight of a layer with `to_quantized` (Linear,
/// Embedding: 2-D `*.weight`, never norms or convolutions) and its last dimension is a
/// multiple of the group size; a recipe then picks its bits per layer.
public struct MLXQuantizationPolicy: Sendable, Hashable {
    public var bits: Int
    public var groupSize: Int
    public var recipe: MLXRecipe?
    /// Number of transformer layers (`num_hidden_layers`); the recipes need it.
    public var layerCount: Int

    public init(bits: Int = 4, groupSize: Int = 64, recipe: MLXRecipe? = nil, layerCount: Int = 0)
        throws(QuantizeError)
    {
        guard TensorQuantization.affineBits.contains(bits) else {
            throw QuantizeError(.unsupported("bits \(bits) for MLX affine quantization (2, 3, 4, 5, 6, 8)"))
        }
        guard TensorQuantization.affineGroupSizes.contains(groupSize) else {
            throw QuantizeError(.unsupported("group size \(groupSize) for MLX affine quantization (32, 64, 128)"))
        }
        self.bits = bits
        self.groupSize = groupSize
        self.recipe = recipe
        self.layerCount = layerCount
    }

    /// Whether mlx-lm would treat `name` as a Linear/Embedding weight: a 2-D `*.weight`
    /// outside norms. (Convolutions are 3-D or more; norms and biases are 1-D.)
    public static func isQuantizableLayerWeight(name: String, shape: [Int]) -> Bool {
        guard name.hasSuffix(".weight"), shape.count == 2 else { return false }
        let module = String(name.dropLast(".weight".count))
        let last = module.split(separator: ".").last.map(String.init) ?? module
        return !last.contains("norm") && !last.hasPrefix("ln")
    }

    /// The choice for one tensor.
    public func choose(name: String, shape: [Int], dtype: TensorType) -> TensorQuantization {
        guard case .dense(let d) = dtype, d.isFloatingPoint,
            Self.isQuantizableLayerWeight(name: name, shape: shape),
            let last = shape.last, last % groupSize == 0
        else { return .keep }
        guard let recipe else { return .affine(bits: bits, groupSize: groupSize) }
        let path = String(name.dropLast(".weight".count))
        let n = layerCount
        let index = Self.layerIndex(path) ?? 0
        let moreBits = index < n / 8 || index >= 7 * n / 8 || (index - n / 8) % 3 == 2
        if (path.contains("v_proj") || path.contains("v_a_proj") || path.contains("v_b_proj")) && moreBits {
            return .affine(bits: recipe.highBits, groupSize: groupSize)
        }
        if path.contains("down_proj") && moreBits { return .affine(bits: recipe.highBits, groupSize: groupSize) }
        if path.contains("lm_head") { return .affine(bits: recipe.highBits, groupSize: groupSize) }
        return .affine(bits: recipe.lowBits, groupSize: groupSize)
    }

    /// The first all-digit component of a module path (`model.layers.12.mlp` → 12), as the
    /// recipe locates the layer index.
    static func layerIndex(_ path: String) -> Int? {
        for part in path.split(separator: ".") where !part.isEmpty && part.allSatisfy(\.isNumber) {
            return Int(part)
        }
        return nil
    }

    /// The `quantization` object of an mlx `config.json` for these choices (`name` →
    /// choice), as `quantize_model` writes it: the global parameters, plus one entry per
    /// module when a recipe chose per layer. With `perLayer` (user overrides), modules whose
    /// choice differs from the global one get an entry too, and a layer weight left float
    /// gets `false`, as mlx-lm's loader reads them.
    public func configEntry(choices: [(name: String, choice: TensorQuantization)], perLayer: Bool = false)
        -> Metadata
    {
        var q: Metadata = [
            "group_size": .int64(Int64(groupSize)), "bits": .int64(Int64(bits)), "mode": .string("affine"),
        ]
        guard recipe != nil || perLayer else { return q }
        for (name, choice) in choices where name.hasSuffix(".weight") {
            let module = String(name.dropLast(".weight".count))
            switch choice {
            case .affine(let b, let g):
                if recipe == nil && b == bits && g == groupSize { continue }
                q[module] = .object([
                    "group_size": .int64(Int64(g)), "bits": .int64(Int64(b)), "mode": .string("affine"),
                ])
            case .keep where perLayer:
                q[module] = .bool(false)
            default: continue
            }
        }
        return q
    }
}

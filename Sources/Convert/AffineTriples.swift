import Formats
import Quantize

/// The MLX affine-quantized layers of a source: each `x.weight` (packed `U32` codes) with its
/// `x.scales` and `x.biases`, and the bits and group size it was packed with.
///
/// Bits and group size come from the config's `quantization` block (a per-module entry
/// first, as mlx-lm's loader reads it, then the global one) and must agree with the shapes:
/// `in = packed.last × 32 / bits` and `scales.last = in / group`. A module the config does
/// not describe (a tensor file without config) is inferred from the shapes when exactly one
/// (bits, group) pair of mlx's fits; otherwise the layer is an error, never a guess.
struct AffineTriples {
    struct Layer: Sendable {
        var weight: TensorInfo
        var scales: TensorInfo
        var biases: TensorInfo
        var bits: Int
        var groupSize: Int
        /// The dequantized shape: `packed` with its last dimension unpacked.
        var shape: [Int]
    }

    /// Layers by weight name.
    var layers: [String: Layer] = [:]
    /// Names of scales and biases that belong to a layer.
    var companions: Set<String> = []

    init(tensors: [TensorInfo], config: Metadata, file: String) throws(ConvertError) {
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let quantization =
            config["quantization"]?.objectValue ?? config["quantization_config"]?.objectValue
        for t in tensors where t.type == .dense(.u32) {
            let module = AffineNaming.module(ofWeight: t.name)
            guard let scales = byName[module + ".scales"], let biases = byName[module + ".biases"],
                AffineNaming.packedWeight(ofModule: module, where: { byName[$0] != nil }) == t.name
            else { continue }
            guard let packedLast = t.shape.last, let groups = scales.shape.last, groups > 0,
                scales.shape == biases.shape, scales.shape.dropLast() == t.shape.dropLast(),
                case .dense(let sd) = scales.type, [.f32, .f16, .bf16].contains(sd),
                scales.type == biases.type
            else {
                throw ConvertError(
                    "tensor '\(t.name)': packed \(t.shape), scales \(scales.shape) \(scales.type), biases \(biases.shape) \(biases.type) are not an MLX affine triple",
                    file: file)
            }
            func fitting(_ pairs: [(Int, Int)]) -> [(Int, Int)] {
                pairs.filter { b, g in
                    (packedLast * 32) % b == 0 && (packedLast * 32 / b) == groups * g
                }
            }
            var fits: [(Int, Int)] = []
            if let entry = quantization?[module]?.objectValue ?? quantization,
                let b = entry["bits"]?.intValue, let g = entry["group_size"]?.intValue, b > 0, g > 0
            {
                fits = fitting([(Int(b), Int(g))])
            }
            if fits.isEmpty {
                // As mlx-lm's `infer_quant_config` for modules the config does not name.
                var all: [(Int, Int)] = []
                for b in TensorQuantization.affineBits.sorted() {
                    for g in TensorQuantization.affineGroupSizes.sorted() { all.append((b, g)) }
                }
                fits = fitting(all)
            }
            guard fits.count == 1, let (bits, group) = fits.first else {
                let why =
                    fits.isEmpty ? "do not fit" : "fit several (bits, group size) pairs: \(fits)"
                throw ConvertError(
                    "tensor '\(t.name)': packed \(t.shape) with scales \(scales.shape) \(why) the quantization config; add a per-module entry to config.json's \"quantization\"",
                    file: file)
            }
            var shape = t.shape
            shape[shape.count - 1] = packedLast * 32 / bits
            layers[t.name] = Layer(
                weight: t, scales: scales, biases: biases, bits: bits, groupSize: group,
                shape: shape)
            companions.insert(scales.name)
            companions.insert(biases.name)
        }
    }
}

import Formats
import Quantize

/// MLX affine triples (`x.weight` U32, `x.scales`, `x.biases`) against config.json's
/// `quantization` block (bits, group size, per-module entries), as mlx-lm loads them.
extension LintState {
    /// The default and per-module settings of an MLX `quantization` block.
    struct AffineSettings {
        var bits: Int
        var groupSize: Int
        /// Per module path; nil: explicitly unquantized (`false`).
        var modules: [String: (bits: Int, groupSize: Int)?] = [:]

        func setting(_ module: String) -> (bits: Int, groupSize: Int)? {
            if let entry = modules[module] { return entry }
            return (bits, groupSize)
        }
    }

    /// Reads the `quantization` (or mlx-style `quantization_config`) block; nil when absent or
    /// not MLX affine (GPTQ/AWQ blocks carry `quant_method`).
    mutating func affineSettings(_ config: Metadata?, file: String) -> AffineSettings? {
        guard let config else { return nil }
        let block: Metadata
        if let q = config["quantization"]?.objectValue {
            block = q
        } else if let q = config["quantization_config"]?.objectValue, q["quant_method"] == nil, q["bits"] != nil {
            block = q
        } else {
            return nil
        }
        if let mode = block["mode"]?.stringValue, mode != "affine" {
            add(.info, "quantization-mode", file: file, "quantization mode '\(mode)': only affine triples are checked")
            return nil
        }
        guard let bits = block["bits"]?.intValue, let group = block["group_size"]?.intValue else {
            add(.error, "quantization-config", file: file, "quantization block lacks integer bits and group_size")
            return nil
        }
        var settings = AffineSettings(bits: Int(bits), groupSize: Int(group))
        for (key, value) in block where !["bits", "group_size", "mode", "quant_method"].contains(key) {
            switch value {
            case .bool(let on): settings.modules[key] = on ? (settings.bits, settings.groupSize) : .some(nil)
            case .object(let o):
                if let b = o["bits"]?.intValue, let g = o["group_size"]?.intValue {
                    settings.modules[key] = (Int(b), Int(g))
                } else {
                    add(.error, "quantization-config", file: file, tensor: key, "per-module entry lacks bits and group_size")
                }
            default: break
            }
        }
        if config["quantization"] != nil, config["quantization_config"] == nil {
            add(.info, "quantization-config", file: file,
                "`quantization` without `quantization_config`: mlx-lm reads it; transformers-based tools look for the latter")
        }
        return settings
    }

    /// Every `.scales` tensor against its weight, biases and the config's setting.
    mutating func lintQuantization(config: Metadata?, file: String) {
        let settings = affineSettings(config, file: file)
        let scaleNames = order.filter { $0.hasSuffix(".scales") }
        if settings != nil, scaleNames.isEmpty {
            // mlx_lm.convert writes this itself when no layer fits the group size; mlx-lm then
            // quantizes only the layers whose `.scales` are present, i.e. none.
            add(.info, "quantization-config", file: file,
                "config.json declares quantization but no tensor has .scales: every layer loads unquantized")
            return
        }
        if settings == nil, config != nil, !scaleNames.isEmpty {
            add(.error, "quantization-mismatch", file: file,
                "\(scaleNames.count) tensors are MLX affine triples but config.json has no quantization block: loaders read packed codes as weights")
        }
        for scalesName in scaleNames {
            let module = String(scalesName.dropLast(".scales".count))
            guard let scales = tensors[scalesName],
                let weight = AffineNaming.packedWeight(ofModule: module, where: { tensors[$0] != nil })
                    .flatMap({ tensors[$0] })
            else {
                add(.error, "quantization-mismatch", file: tensors[scalesName]?.file ?? file, tensor: scalesName,
                    "scales without \(module).weight")
                continue
            }
            guard let biases = tensors[module + ".biases"] else {
                add(.error, "quantization-mismatch", file: scales.file, tensor: scalesName,
                    "scales without \(module).biases (MLX affine mode needs both)")
                continue
            }
            guard weight.info.type == .dense(.u32) else {
                add(.error, "quantization-mismatch", file: weight.file, tensor: weight.info.name,
                    "has scales but is \(weight.info.type), not packed U32 codes")
                continue
            }
            if biases.info.shape != scales.info.shape {
                add(.error, "quantization-mismatch", file: biases.file, tensor: biases.info.name,
                    "shape \(biases.info.shape) differs from its scales' \(scales.info.shape)")
            }
            guard case .dense(let sd) = scales.info.type, [.f32, .f16, .bf16].contains(sd) else {
                add(.error, "quantization-mismatch", file: scales.file, tensor: scalesName, "scales are \(scales.info.type), not F32/F16/BF16")
                continue
            }
            // Without a config (a plain safetensors file), infer: any (bits, group) that fits.
            let packedShape = weight.info.shape, groupsShape = scales.info.shape
            guard let packedLast = packedShape.last, let groups = groupsShape.last,
                packedShape.dropLast() == groupsShape.dropLast(), groups > 0
            else {
                add(.error, "quantization-mismatch", file: weight.file, tensor: weight.info.name,
                    "packed shape \(packedShape) and scales shape \(groupsShape) disagree on the leading dimensions")
                continue
            }
            guard let settings else { continue }
            guard let s = settings.setting(module) else {
                add(.error, "quantization-mismatch", file: file, tensor: module,
                    "config.json says this module is not quantized, but it has scales")
                continue
            }
            let columns = packedLast * 32 / max(s.bits, 1)
            let fits = AffineLimits.bits.contains(s.bits) && (packedLast * 32) % s.bits == 0
                && columns % s.groupSize == 0 && columns / s.groupSize == groups
            if !fits {
                let implied = inferredSettings(packed: packedLast, groups: groups)
                    .map { "\($0.bits) bits, group \($0.groupSize)" }.joined(separator: " or ")
                add(.error, "quantization-mismatch", file: weight.file, tensor: weight.info.name,
                    "config.json says \(s.bits) bits, group \(s.groupSize), but packed \(packedShape) with \(groups) groups per row"
                        + (implied.isEmpty ? " fits no MLX setting" : " fits \(implied)"))
            }
        }
    }

    /// The (bits, group size) pairs MLX accepts that give `packed` words and `groups` groups per row.
    func inferredSettings(packed: Int, groups: Int) -> [(bits: Int, groupSize: Int)] {
        var fits: [(bits: Int, groupSize: Int)] = []
        for bits in AffineLimits.bits.sorted() where (packed * 32) % bits == 0 {
            let columns = packed * 32 / bits
            for g in AffineLimits.groupSizes.sorted() where columns == g * groups { fits.append((bits, g)) }
        }
        return fits
    }
}

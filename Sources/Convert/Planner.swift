import Formats
import Quantize

/// Turns a request and an opened source into a `ConversionPlan`, reading headers only.
public enum Planner {
    public static func plan(_ request: ConversionRequest, source: any TensorSource) throws(ConvertError)
        -> ConversionPlan
    {
        let format = try request.resolvedFormat()
        if let imported = try GGUFImport.source(source, request: request, format: format) {
            var plan = try plan(request, source: imported)
            plan.ggufImport = imported
            return plan
        }
        if let d = request.dtype, ![.f32, .f16, .bf16].contains(d) {
            throw ConvertError("--dtype must be f32, f16 or bf16, not \(d.rawValue)")
        }
        if request.affine != nil, ![.mlx, .safetensors].contains(format) {
            throw ConvertError("--bits (MLX affine quantization) needs --to mlx or a .safetensors output, not \(format.rawValue)")
        }
        if request.gguf != nil, format != .gguf {
            throw ConvertError("--gguf-type needs a GGUF output, not \(format.rawValue)")
        }
        if request.affine != nil, request.gguf != nil {
            throw ConvertError("--bits and --gguf-type exclude each other")
        }

        let prep = try prepareMLX(request, source: source, format: format)
        var tensors = prep.tensors
        var choices: [String: (TensorQuantization, String?)] = [:]
        var mlxConfig: Metadata?
        if let affine = request.affine {
            let policy: MLXQuantizationPolicy
            do {
                policy = try MLXQuantizationPolicy(
                    bits: affine.bits, groupSize: affine.groupSize, recipe: affine.recipe,
                    layerCount: ArchitectureFacts.layerCount(source) ?? 0)
            } catch { throw ConvertError(error.description) }
            let recognised = source is ModelDirectory || source is GGUFImportSource
            if affine.recipe != nil, !recognised {
                throw ConvertError("--mlx-recipe needs a model directory (config.json) as source", file: request.source)
            }
            for t in tensors {
                // A GGUF's block-quantized weights are floats once decoded, as mlx_lm.convert
                // would see them in the Hugging Face checkpoint.
                let type = source is GGUFImportSource && t.type.dense == nil ? .dense(.f32) : t.type
                choices[t.name] = (recognised
                    ? policy.choose(name: t.name, shape: t.shape, dtype: type)
                    : plainAffineChoice(t, bits: affine.bits, groupSize: affine.groupSize), nil)
            }
            if format == .mlx {
                mlxConfig = policy.configEntry(choices: tensors.compactMap { t in choices[t.name].map { (t.name, $0.0) } })
            }
        } else if let gguf = request.gguf {
            if let model = ArchitectureFacts.ggufModelShape(source) {
                let shapes = tensors.map { GGUFTensorShape(name: $0.name, shape: $0.shape) }
                let chosen: [GGUFTypeChoice]
                do {
                    chosen = try LlamaQuantizeRules.choose(preset: gguf.preset, tensors: shapes, model: model, pure: gguf.pure)
                } catch { throw ConvertError(error.description, file: request.source) }
                for c in chosen {
                    choices[c.name] = (c.type, c.fallbackFrom.map { "\($0.name) does not fit rows of this length: fell back as llama-quantize does" })
                }
                // llama-quantize writes tensors in the order it processes them.
                let order = Dictionary(uniqueKeysWithValues: chosen.enumerated().map { ($1.name, $0) })
                tensors.sort { (order[$0.name] ?? 0) < (order[$1.name] ?? 0) }
            } else {
                for t in tensors { choices[t.name] = (plainGGUFChoice(t, type: gguf.preset.baseType), nil) }
            }
        } else if format == .mlx, let imported = source as? GGUFImportSource {
            let (chosen, config) = GGUFImport.mlxChoices(imported)
            for (name, c) in chosen { choices[name] = (c, nil) }
            mlxConfig = config
        }

        if !request.overrides.isEmpty {
            guard request.affine != nil || request.gguf != nil else {
                throw ConvertError("--override needs --bits or --gguf-type")
            }
            for t in tensors {
                guard let rule = QuantizationOverride.first(in: request.overrides, matching: t.name) else { continue }
                switch rule.choice {
                case .affine where request.affine == nil, .ggml where request.gguf == nil:
                    throw ConvertError("override '\(rule)': \(rule.choice) does not fit a \(format.rawValue) output")
                case .affine(_, let g):
                    guard t.shape.count >= 2, let last = t.shape.last, last % g == 0 else {
                        throw ConvertError("override '\(rule)': tensor '\(t.name)' of shape \(t.shape) cannot take group size \(g)")
                    }
                case .ggml(let g):
                    guard let last = t.shape.last, last % g.blockSize == 0 else {
                        throw ConvertError("override '\(rule)': tensor '\(t.name)' rows of \(t.shape.last ?? 0) are not whole \(g.name) blocks")
                    }
                case .keep: break
                }
                choices[t.name] = (rule.choice, "override \(rule)")
            }
            if format == .mlx, let affine = request.affine {
                let policy = try? MLXQuantizationPolicy(bits: affine.bits, groupSize: affine.groupSize, recipe: affine.recipe)
                mlxConfig = policy?.configEntry(
                    choices: tensors.compactMap { t in choices[t.name].map { (t.name, $0.0) } },
                    perLayer: true)
            }
        }

        var planned: [PlannedTensor] = []
        planned.reserveCapacity(tensors.count)
        for t in tensors {
            let (choice, note) = choices[t.name] ?? (.keep, nil)
            var p = try planMLXAware(t, choice: choice, prep: prep, format: format)
            p.note = note
            planned.append(p)
        }
        let metadata = outputMetadata(format: format, request: request, source: source, tensors: planned)
        return ConversionPlan(
            request: request, sourceFormat: source.format, format: format, metadata: metadata,
            tensors: planned, mlxQuantizationConfig: mlxConfig)
    }

    /// cli.md's rule for plain tensor files: every floating tensor with at least 2 dimensions
    /// whose last dimension is divisible by the group size.
    static func plainAffineChoice(_ t: TensorInfo, bits: Int, groupSize: Int) -> TensorQuantization {
        guard t.shape.count >= 2, let last = t.shape.last, last % groupSize == 0 else { return .keep }
        switch t.type {
        case .dense(let d) where d.isFloatingPoint && d.byteSize != nil: return .affine(bits: bits, groupSize: groupSize)
        case .ggml: return .affine(bits: bits, groupSize: groupSize)
        default: return .keep
        }
    }

    /// cli.md's rule for plain tensor files: every floating tensor of 2 or more dimensions
    /// whose row length is a multiple of the block size gets the type; the rest stay F32.
    static func plainGGUFChoice(_ t: TensorInfo, type: GGMLType) -> TensorQuantization {
        let floating: Bool
        switch t.type {
        case .dense(let d): floating = d.isFloatingPoint && d.byteSize != nil
        case .ggml: floating = true
        }
        guard floating else { return .keep }
        if t.shape.count >= 2, let last = t.shape.last, last % type.blockSize == 0 { return .ggml(type) }
        return .ggml(.F32)
    }

    /// Plans one tensor given the policy's choice.
    static func plan(_ t: TensorInfo, choice: TensorQuantization, request: ConversionRequest, format: OutputFormat)
        throws(ConvertError) -> PlannedTensor
    {
        func info(_ name: String, _ type: TensorType, _ shape: [Int]) throws(ConvertError) -> TensorInfo {
            guard let i = TensorInfo(name: name, type: type, shape: shape) else {
                throw ConvertError("tensor '\(t.name)': shape \(shape) does not fit \(type)", file: request.source)
            }
            return i
        }
        var outputs: [TensorInfo]
        let action: TensorAction
        switch choice {
        case .affine(let bits, let groupSize):
            // Scales and biases take the weight's dtype after --dtype (mlx-lm casts first).
            let base: DType
            switch t.type {
            case .dense(let d) where [.f32, .f16, .bf16].contains(d): base = request.dtype ?? d
            default: base = request.dtype ?? .f32
            }
            let stem = AffineNaming.module(ofWeight: t.name)
            var packed = t.shape, scales = t.shape
            let k = t.shape.last ?? 0
            packed[packed.count - 1] = k * bits / 32
            scales[scales.count - 1] = k / groupSize
            outputs = [
                try info(t.name, .dense(.u32), packed),
                try info(stem + ".scales", .dense(base), scales),
                try info(stem + ".biases", .dense(base), scales),
            ]
            if case .ggml(let g) = t.type, Transcode.ggmlTypes.contains(g), groupSize == 32,
                bits == (g == .Q8_0 ? 8 : 4)
            {
                action = .transcodeToAffine(from: g, dtype: base)
            } else {
                action = .quantizeAffine(bits: bits, groupSize: groupSize, dtype: base)
            }
        case .ggml(let g) where g.denseType == nil:
            outputs = [try info(t.name, .ggml(g), t.shape)]
            action = t.type == .ggml(g) ? .copy : .quantizeGGML(g)
        case .ggml(let g):
            // A float type chosen by a GGUF policy (F32/F16/BF16).
            let target = g.denseType ?? .f32
            outputs = [try info(t.name, .dense(target), t.shape)]
            action = try denseAction(t, to: target, request: request)
        case .keep:
            var target: TensorType = t.type
            var a = TensorAction.copy
            switch t.type {
            case .dense(let d):
                if let want = request.dtype, d.isFloatingPoint, d != want {
                    guard d.byteSize != nil else {
                        throw ConvertError("tensor '\(t.name)': cannot cast \(d.rawValue) (sub-byte) to \(want.rawValue)", file: request.source)
                    }
                    a = .cast(from: d, to: want)
                    target = .dense(want)
                }
            case .ggml(let g):
                if format != .gguf || request.dtype != nil {
                    let want = request.dtype ?? .f32
                    a = .dequantize(from: g, to: want)
                    target = .dense(want)
                }
            }
            outputs = [try info(t.name, target, t.shape)]
            action = a
        }
        for o in outputs {
            if case .dense(let d) = o.type, !canHold(format, d) {
                let hint = d.isFloatingPoint ? "; add --dtype f32 or --dtype f16" : ""
                throw ConvertError(
                    "tensor '\(o.name)': \(format.rawValue) cannot hold \(d.rawValue)\(hint)",
                    file: request.destination)
            }
        }
        return PlannedTensor(source: t, outputs: outputs, action: action, note: nil)
    }

    /// Copy, cast or dequantize `t` into the dense dtype `target`.
    static func denseAction(_ t: TensorInfo, to target: DType, request: ConversionRequest) throws(ConvertError) -> TensorAction {
        switch t.type {
        case .dense(let d) where d == target: return .copy
        case .dense(let d):
            guard d.isFloatingPoint, d.byteSize != nil else {
                throw ConvertError("tensor '\(t.name)': cannot convert \(d.rawValue) to \(target.rawValue)", file: request.source)
            }
            return .cast(from: d, to: target)
        case .ggml(let g): return .dequantize(from: g, to: target)
        }
    }

    /// Dense dtypes each output can hold (npz: what numpy has; GGUF: ggml's types).
    static func canHold(_ format: OutputFormat, _ dtype: DType) -> Bool {
        switch format {
        case .safetensors, .mlx, .hf: true
        case .npz:
            switch dtype {
            case .bf16, .f8e4m3, .f8e5m2, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz, .f4, .f6e2m3, .f6e3m2: false
            default: true
            }
        case .gguf: GGMLType(dense: dtype) != nil
        }
    }

    /// Metadata carried to the output: what the target format can hold and still means the
    /// same thing after the conversion.
    static func outputMetadata(
        format: OutputFormat, request: ConversionRequest, source: any TensorSource, tensors: [PlannedTensor]
    ) -> Metadata {
        switch format {
        case .npz:
            return [:]
        case .safetensors:
            var m = Metadata()
            if source.format == .safetensors {
                m = source.metadata
            } else if source.format == .gguf {
                // Scalar GGUF keys as strings (arrays such as the vocabulary are left out).
                for (k, v) in source.metadata {
                    switch v {
                    case .array, .object, .null: continue
                    case .string(let s): m[k] = .string(s)
                    default: m[k] = .string(v.jsonString())
                    }
                }
            }
            if m["format"] == nil { m["format"] = .string(request.affine != nil ? "mlx" : "pt") }
            return m
        case .mlx:
            return ["format": .string("mlx")]
        case .hf:
            return ["format": .string("pt")]
        case .gguf:
            var m = source.format == .gguf ? source.metadata : Metadata()
            if let gguf = request.gguf {
                // As llama-quantize: both keys removed, then appended at the end.
                m.removeValue(forKey: "general.quantization_version")
                m.removeValue(forKey: "general.file_type")
                m["general.quantization_version"] = .uint32(2)
                m["general.file_type"] = .uint32(gguf.preset.fileType)
            } else if tensors.contains(where: { $0.action != .copy }), m["general.file_type"] != nil {
                // general.file_type describes the tensor types; recompute or drop it.
                m.removeValue(forKey: "general.file_type")
                let types = Set(tensors.filter { $0.output.shape.count >= 2 }.map(\.output.type))
                if types.count == 1, let t = types.first, let ft = llamaFileType(t) {
                    m["general.file_type"] = .uint32(ft)
                }
            }
            return m
        }
    }

    /// llama.cpp's `enum llama_ftype` for uniform files.
    static func llamaFileType(_ t: TensorType) -> UInt32? {
        switch t {
        case .dense(.f32): 0
        case .dense(.f16): 1
        case .dense(.bf16): 32
        case .ggml(let g): GGUFPreset(baseType: g).fileType == 0 ? nil : GGUFPreset(baseType: g).fileType
        default: nil
        }
    }
}

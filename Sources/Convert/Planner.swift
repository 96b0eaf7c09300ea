import Formats

/// Turns a request and an opened source into a `ConversionPlan`, reading headers only.
public enum Planner {
    /// Dense dtypes each single-file output can hold (npz: what numpy has; GGUF: ggml's types).
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

    public static func plan(_ request: ConversionRequest, source: any TensorSource) throws(ConvertError)
        -> ConversionPlan
    {
        let format = try request.resolvedFormat()
        if let d = request.dtype, ![.f32, .f16, .bf16].contains(d) {
            throw ConvertError("--dtype must be f32, f16 or bf16, not \(d.rawValue)")
        }
        var planned: [PlannedTensor] = []
        planned.reserveCapacity(source.tensors.count)
        for t in source.tensors {
            var out = t
            out.location = .init()
            let action: TensorAction
            switch t.type {
            case .dense(let d):
                if let target = request.dtype, d.isFloatingPoint, d != target {
                    guard d.byteSize != nil else {
                        throw ConvertError("tensor '\(t.name)': cannot cast \(d.rawValue) (sub-byte) to \(target.rawValue)", file: request.source)
                    }
                    action = .cast(from: d, to: target)
                    out.type = .dense(target)
                } else {
                    action = .copy
                }
            case .ggml(let g):
                if format == .gguf && request.dtype == nil {
                    action = .copy
                } else {
                    let target = request.dtype ?? .f32
                    action = .dequantize(from: g, to: target)
                    out.type = .dense(target)
                }
            }
            guard let bytes = out.type.byteCount(shape: out.shape) else {
                throw ConvertError("tensor '\(t.name)': shape \(t.shape) overflows", file: request.source)
            }
            out.byteCount = bytes
            if case .dense(let d) = out.type, !canHold(format, d) {
                let hint = d.isFloatingPoint ? "; add --dtype f32 or --dtype f16" : ""
                throw ConvertError(
                    "tensor '\(t.name)': \(format.rawValue) cannot hold \(d.rawValue)\(hint)",
                    file: request.destination)
            }
            planned.append(PlannedTensor(source: t, output: out, action: action))
        }
        let metadata = outputMetadata(format: format, source: source, tensors: planned)
        return ConversionPlan(
            request: request, sourceFormat: source.format, format: format, metadata: metadata,
            tensors: planned)
    }

    /// Metadata carried to the output: what the target format can hold and still means the
    /// same thing after the conversion.
    static func outputMetadata(format: OutputFormat, source: any TensorSource, tensors: [PlannedTensor])
        -> Metadata
    {
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
            if m["format"] == nil { m["format"] = .string("pt") }
            return m
        case .mlx:
            return ["format": .string("mlx")]
        case .hf:
            return ["format": .string("pt")]
        case .gguf:
            guard source.format == .gguf else { return [:] }
            var m = source.metadata
            if tensors.contains(where: { $0.action != .copy }) {
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
        case .ggml(.Q4_0): 2
        case .ggml(.Q4_1): 3
        case .ggml(.Q8_0): 7
        case .ggml(.Q5_0): 8
        case .ggml(.Q5_1): 9
        case .ggml(.Q2_K): 10
        case .ggml(.Q6_K): 18
        default: nil
        }
    }
}

import Compute
import Formats
import Quantize

/// One weight an architecture expects: its name in the model, where it is stored, and the
/// shape the configuration implies.
public struct WeightSpec: Sendable, Hashable {
    /// The name the model code uses (Hugging Face's, e.g. `model.layers.0.self_attn.q_proj.weight`).
    public var name: String
    /// The name in the source (the same for hf/mlx directories; `blk.0.attn_q.weight` in GGUF).
    public var storedName: String
    /// Row-major logical shape ([out, in] for a linear weight).
    public var shape: [Int]
    /// Rows stored in GGUF's interleaved-heads order for this many heads (LLaMA q/k).
    public var interleavedHeads: Int?
    /// Absent without error (e.g. `lm_head.weight` of a tied model that stores it anyway).
    public var optional: Bool

    public init(
        _ name: String, stored: String? = nil, shape: [Int], interleavedHeads: Int? = nil,
        optional: Bool = false
    ) {
        self.name = name
        self.storedName = stored ?? name
        self.shape = shape
        self.interleavedHeads = interleavedHeads
        self.optional = optional
    }
}

/// The weights of a model, by name, taken from any `TensorSource` and checked against the
/// configuration before any graph is built.
///
/// Every expected weight must be present with the shape the configuration implies, and every
/// tensor of the source must be used (or explicitly ignored): a missing, misshapen or extra
/// tensor is an error naming it, never a silently wrong model. Nothing is copied: dense
/// weights are constants over the mapped bytes (F16/BF16 widened as the graph runs), MLX
/// affine triples (`x.weight` U32 + `x.scales` + `x.biases`) and GGML block tensors become
/// packed `QuantizedWeight`s, and GGUF's interleaved q/k rows are read back in Hugging Face
/// order (a view for dense weights, a row map for packed ones).
///
/// ```swift
/// let store = try WeightStore(source: source, file: path, specs: specs)
/// let q = try store.weight("model.layers.0.self_attn.q_proj.weight")
/// ```
public struct WeightStore: Sendable {
    /// The file or directory, for errors.
    public let file: String
    /// The weights by model name.
    public let weights: [String: Weight]

    /// Resolves every spec in `source`.
    ///
    /// - Parameters:
    ///   - quantization: an mlx directory's `quantization` block; a weight stored as a triple
    ///     takes its bits and group size from it (per-module overrides included).
    ///   - ignoring: stored names that may be present and are not weights (`rope_freqs.weight`,
    ///     `*.rotary_emb.inv_freq`).
    /// - Throws: `FormatError` naming `file` and the tensor: missing, wrong shape or type,
    ///   extra, or a quantized triple that does not fit its configuration.
    public init(
        source: any TensorSource, file: String, specs: [WeightSpec],
        quantization: AffineQuantizationConfig? = nil,
        ignoring: (String) -> Bool = { _ in false }
    ) throws(FormatError) {
        self.file = file
        var byName: [String: TensorInfo] = [:]
        for t in source.tensors { byName[t.name] = t }
        var used = Set<String>()
        var weights: [String: Weight] = [:]
        for spec in specs {
            guard let info = byName[spec.storedName] else {
                if spec.optional { continue }
                throw FormatError(
                    .invalid("missing tensor '\(spec.storedName)'"), file: file,
                    field: spec.storedName)
            }
            used.insert(spec.storedName)
            let module =
                spec.storedName.hasSuffix(".weight")
                ? String(spec.storedName.dropLast(".weight".count)) : spec.storedName
            if let scales = byName[module + ".scales"], spec.storedName.hasSuffix(".weight") {
                let biases = byName[module + ".biases"]
                used.insert(scales.name)
                if let biases { used.insert(biases.name) }
                weights[spec.name] = try Self.affine(
                    source, file, spec, info, scales, biases, module: module, quantization)
            } else {
                weights[spec.name] = try Self.plain(source, file, spec, info)
            }
        }
        let extra = source.tensors.map(\.name).filter { !used.contains($0) && !ignoring($0) }
        if let first = extra.first {
            let list = extra.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
            throw FormatError(
                .invalid(
                    "unexpected tensor\(extra.count > 1 ? "s" : "") \(list)"
                        + (extra.count > 5 ? " and \(extra.count - 5) more" : "")
                        + " for this architecture and configuration"),
                file: file, field: first)
        }
        self.weights = weights
    }

    /// The weight named `name` (a spec's model name).
    /// - Throws: `FormatError` when no spec had that name (or an optional one was absent).
    public func weight(_ name: String) throws(FormatError) -> Weight {
        guard let w = weights[name] else {
            throw FormatError(.invalid("missing tensor '\(name)'"), file: file, field: name)
        }
        return w
    }

    /// Whether `name` was found.
    public func contains(_ name: String) -> Bool { weights[name] != nil }

    static func mismatch(_ file: String, _ spec: WeightSpec, _ what: String) -> FormatError {
        FormatError(.invalid(what), file: file, field: spec.storedName)
    }

    /// A dense or GGML-block tensor.
    static func plain(
        _ source: any TensorSource, _ file: String, _ spec: WeightSpec, _ info: TensorInfo
    )
        throws(FormatError) -> Weight
    {
        guard info.shape == spec.shape else {
            throw mismatch(
                file, spec, "shape \(info.shape), expected \(spec.shape) from the configuration")
        }
        let bytes = try source.bytes(of: info)
        do {
            switch info.type {
            case .dense(let d):
                guard d == .f32 || d == .f16 || d == .bf16 else {
                    throw mismatch(
                        file, spec, "dtype \(d.rawValue) is not a weight dtype (F32, F16, BF16)")
                }
                var t = try Tensor(bytes: bytes, dtype: d, shape: info.shape)
                if let heads = spec.interleavedHeads { t = try unpermute(t, heads: heads) }
                return .dense(t)
            case .ggml(let g):
                guard info.shape.count == 2 else {
                    return .dense(try dequantizedVector(g, bytes, info, file, spec))
                }
                let (rows, columns) = (info.shape[0], info.shape[1])
                var q: QuantizedWeight
                if g == .Q4_0 || g == .Q4_1 || g == .Q5_0 || g == .Q5_1 || g == .Q8_0 || g == .Q4_K
                    || g == .Q5_K || g == .Q6_K
                {
                    q = try QuantizedWeight.ggml(g, bytes: bytes, rows: rows, columns: columns)
                } else {
                    guard GGMLCodec.canDequantize(g), columns % g.blockSize == 0 else {
                        throw mismatch(file, spec, "\(g.name) weights cannot be decoded")
                    }
                    let perRow = columns / g.blockSize * g.bytesPerBlock
                    guard bytes.count == info.byteCount, rows * perRow == bytes.count else {
                        throw mismatch(
                            file, spec, "\(bytes.count) bytes for \(g.name) \(info.shape)")
                    }
                    q = QuantizedWeight(
                        CodecRows(
                            type: g, bytes: bytes, rows: rows, columns: columns, bytesPerRow: perRow
                        ))
                }
                if let heads = spec.interleavedHeads {
                    q = QuantizedWeight(
                        PermutedRows(
                            base: q.dequantizer,
                            storedRow: ggufQKStoredRows(rows: rows, heads: heads)))
                }
                return .quantized(q)
            }
        } catch let e as FormatError {
            throw e
        } catch let e as ComputeError {
            throw mismatch(file, spec, e.description)
        } catch {
            throw mismatch(file, spec, "\(error)")
        }
    }

    /// Undoes GGUF's q/k row interleaving on a dense weight or bias (a view).
    static func unpermute(_ t: Tensor, heads: Int) throws(ComputeError) -> Tensor {
        let rows = t.shape[0]
        guard heads > 0, rows % heads == 0, (rows / heads) % 2 == 0 else {
            throw ComputeError(.shape("\(rows) rows in \(heads) heads"), op: "unpermute")
        }
        let half = rows / heads / 2
        let rest = Array(t.shape.dropFirst())
        let perm = [0, 2, 1] + rest.indices.map { $0 + 3 }
        return try t.reshape([heads, half, 2] + rest).transposed(perm).reshape(t.shape)
    }

    /// A 1-D weight stored in GGML blocks (rare: llama.cpp keeps norms and biases F32),
    /// decoded once into a small host constant.
    static func dequantizedVector(
        _ g: GGMLType, _ bytes: ByteSlice, _ info: TensorInfo, _ file: String, _ spec: WeightSpec
    ) throws -> Tensor {
        let n = info.elementCount
        var out = [Float](repeating: 0, count: n)
        try out.withUnsafeMutableBufferPointer { dst in
            try GGMLCodec.dequantize(g, bytes.raw, into: dst)
        }
        var t = try Tensor(out, shape: info.shape)
        if let heads = spec.interleavedHeads { t = try unpermute(t, heads: heads) }
        return t
    }

    /// An MLX affine triple: `x.weight` U32 [rows, columns·bits/32], `x.scales` and
    /// `x.biases` [rows, columns/groupSize] (formats doc §4.2-4.4).
    static func affine(
        _ source: any TensorSource, _ file: String, _ spec: WeightSpec, _ packed: TensorInfo,
        _ scales: TensorInfo, _ biases: TensorInfo?, module: String,
        _ quantization: AffineQuantizationConfig?
    ) throws(FormatError) -> Weight {
        guard let biases else {
            throw FormatError(
                .invalid("'\(scales.name)' without '\(module).biases'"), file: file,
                field: module + ".biases")
        }
        guard let quantization, let setting = quantization.setting(for: module) else {
            throw mismatch(
                file, spec,
                "stored quantized (\(scales.name) present) but config.json's quantization does not quantize '\(module)'"
            )
        }
        guard spec.shape.count == 2, spec.interleavedHeads == nil else {
            throw mismatch(file, spec, "only 2-D weights are affine-quantized")
        }
        let (rows, columns) = (spec.shape[0], spec.shape[1])
        let (bits, group) = (setting.bits, setting.groupSize)
        guard bits > 0, bits <= 8, group > 0, columns % group == 0, (columns * bits) % 32 == 0
        else {
            throw mismatch(file, spec, "\(columns) columns with \(bits) bits, group size \(group)")
        }
        let expectPacked = [rows, columns * bits / 32], expectScales = [rows, columns / group]
        guard packed.type == .dense(.u32), packed.shape == expectPacked else {
            throw mismatch(
                file, spec,
                "packed \(packed.type) \(packed.shape), expected U32 \(expectPacked) for \(spec.shape) at \(bits) bits"
            )
        }
        guard let sd = scales.type.dense, scales.shape == expectScales, biases.type == scales.type,
            biases.shape == expectScales
        else {
            throw FormatError(
                .invalid(
                    "scales \(scales.type) \(scales.shape) / biases \(biases.type) \(biases.shape), expected \(expectScales) of one float dtype"
                ), file: file, field: scales.name)
        }
        do {
            return .quantized(
                try QuantizedWeight.affine(
                    packed: try source.bytes(of: packed), scales: try source.bytes(of: scales),
                    biases: try source.bytes(of: biases), scaleDType: sd, rows: rows,
                    columns: columns, bits: bits, groupSize: group))
        } catch let e as FormatError {
            throw e
        } catch {
            throw mismatch(file, spec, "\(error)")
        }
    }
}

import Foundation
import Formats
import Quantize
import Verify

/// MLX directories: each affine triple (`x.weight` packed U32, `x.scales`, `x.biases`) becomes
/// one GGUF tensor, moved into Q4_0 / Q4_1 / Q8_0 blocks unchanged where that is exact
/// (groups of 32, 4 or 8 bits, scales and biases fp16-representable: formats-gguf.md §2.4,
/// `Transcode.affineToGGML`), dequantized otherwise.
extension GGUFExportSource {
    /// One affine-quantized weight and what the view makes of it.
    struct AffineWeight: Sendable {
        var layer: AffineTriples.Layer
        var scalesType: DType
        /// `.ggml(T)` when asked to transcode into T, else dense in `--dtype` or the scales'
        /// dtype (which holds the dequantized values exactly).
        var type: TensorType

        var packed: TensorInfo { layer.weight }
        var scales: TensorInfo { layer.scales }
        var biases: TensorInfo { layer.biases }
        var bits: Int { layer.bits }
        var groupSize: Int { layer.groupSize }
        /// The unpacked shape [rows, columns].
        var shape: [Int] { layer.shape }
    }

    /// The affine weights of `directory` by packed-weight name, and the names of the tensors
    /// they consume (weights, scales, biases). Triples, bits and group sizes are found as the
    /// MLX planner finds them (`AffineTriples`: the config's per-module entry, then the global
    /// one, then the one (bits, group) pair the shapes allow).
    static func affineWeights(
        _ directory: ModelDirectory, config: LlamaConfiguration, transcodeTo: GGMLType?,
        weightType: DType?
    ) throws(FormatError) -> (weights: [String: AffineWeight], parts: Set<String>) {
        guard directory.format == .mlx, config.quantization != nil else { return ([:], []) }
        let triples: AffineTriples
        do {
            triples = try AffineTriples(
                tensors: directory.tensors, config: directory.configuration, file: directory.path)
        } catch {
            throw FormatError(.invalid(error.message), file: directory.path)
        }
        var weights: [String: AffineWeight] = [:]
        var parts = triples.companions
        for (name, layer) in triples.layers {
            guard layer.shape.count == 2, case .dense(let scalesType) = layer.scales.type else {
                throw FormatError(
                    .invalid("an affine weight of shape \(layer.shape); GGUF takes matrices"),
                    file: directory.path, field: name)
            }
            var type = TensorType.dense(weightType ?? scalesType)
            if let target = transcodeTo, Transcode.ggmlTypes.contains(target),
                layer.groupSize == 32,
                layer.bits == (target == .Q8_0 ? 8 : 4)
            {
                type = .ggml(target)
            }
            weights[name] = AffineWeight(layer: layer, scalesType: scalesType, type: type)
            parts.insert(name)
        }
        return (weights, parts)
    }

    /// The bytes of an affine weight as `tensor` (before any Q/K permutation).
    func affineBytes(_ q: AffineWeight, as tensor: TensorInfo) throws(FormatError) -> ByteSlice {
        let name = directory.path + ":" + q.packed.name
        let packed = try directory.bytes(of: q.packed)
        let scales = try directory.bytes(of: q.scales)
        let biases = try directory.bytes(of: q.biases)
        func wrap(_ e: any Error) -> FormatError { FormatError(.invalid("\(e)"), file: name) }
        let count = q.shape[0] * q.shape[1]
        var floats = [Float](repeating: 0, count: count)
        do {
            try floats.withUnsafeMutableBufferPointer { out throws in
                try Affine.dequantize(
                    packed: packed.raw, scales: scales.raw, biases: biases.raw, dtype: q.scalesType,
                    shape: q.shape, bits: q.bits, groupSize: q.groupSize, into: out)
            }
        } catch { throw wrap(error) }
        if case .ggml(let target) = q.type {
            let words = packed.raw.bindMemory(to: UInt32.self)
            let affine = AffineQuantized(
                packed: Array(words), scales: scales.bytes, biases: biases.bytes,
                packedShape: q.packed.shape, scalesShape: q.scales.shape, dtype: q.scalesType,
                bits: q.bits, groupSize: q.groupSize)
            let blocks: [UInt8]?
            do { blocks = try Transcode.affineToGGML(affine, to: target) } catch {
                throw wrap(error)
            }
            if let blocks {
                transcoding.note(
                    tensor.name, "transcoded exactly into \(target.name) (no re-quantization)")
                return ByteBuffer(copying: blocks, name: name).all
            }
            transcoding.note(
                tensor.name,
                "re-quantized into \(target.name): its groups are not exact \(target.name) blocks")
            return try ByteBuffer.make(count: tensor.byteCount, name: name) {
                out throws(FormatError) in
                do {
                    try floats.withUnsafeBufferPointer { f throws in
                        try GGMLCodec.quantize(target, f, into: out, allowNonFinite: false)
                    }
                } catch { throw wrap(error) }
            }.all
        }
        transcoding.note(tensor.name, "dequantized from affine \(q.bits)-bit g\(q.groupSize)")
        guard case .dense(let dense) = tensor.type else {
            throw FormatError(.invalid("\(tensor.type) is not a dense type"), file: name)
        }
        return try ByteBuffer.make(count: tensor.byteCount, name: name) { out throws(FormatError) in
            do {
                try floats.withUnsafeBytes { f throws in
                    try Scalars.convert(f, from: .f32, to: dense, into: out)
                }
            } catch { throw wrap(error) }
        }.all
    }
}

/// What happened to each MLX weight while the view was read (written from the pipeline's
/// thread, read after it finished).
final class TranscodingLog: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var stored: [String: String] = [:]

    func note(_ name: String, _ text: String) { lock.withLock { stored[name] = text } }
    var notes: [String: String] { lock.withLock { stored } }
}

import Compute
import Formats
import Quantize

/// One weight as the engine uses it: a dense constant over the file's bytes, or a packed
/// matrix that stays packed (MLX affine triples, GGML blocks) and is decoded inside the
/// kernels.
public enum Weight: Sendable {
    case dense(Tensor)
    case quantized(QuantizedWeight)

    /// The logical shape (a packed weight is [rows, columns]).
    public var shape: [Int] {
        switch self {
        case .dense(let t): t.shape
        case .quantized(let q): [q.rows, q.columns]
        }
    }

    /// `x @ W.T` for a [out, in] weight: a linear layer without bias. Input [..., in].
    public func linear(_ x: Tensor) throws(ComputeError) -> Tensor {
        switch self {
        case .dense(let w): try x.matmul(try w.swapAxes(0, 1))
        case .quantized(let q): try x.quantizedMatmul(q)
        }
    }

    /// Rows of this [vocab, dim] table for I32 `ids`, always as F32 (an F16/BF16 table is
    /// widened, so activations stay float32).
    public func embed(_ ids: Tensor) throws(ComputeError) -> Tensor {
        switch self {
        case .dense(let w): try w.embedding(ids).cast(.f32)
        case .quantized(let q): try Tensor.embedding(ids, table: q)
        }
    }

    /// The weight as a dense tensor (a vector: norm weights, biases).
    /// - Throws: `ComputeError` for a packed weight, which only a matmul can read.
    public func tensor() throws(ComputeError) -> Tensor {
        switch self {
        case .dense(let t): return t
        case .quantized:
            throw ComputeError(.unsupported("a packed weight used as a dense tensor"), op: "weight")
        }
    }
}

/// Rows of a packed matrix read in another order: logical row `r` is stored row `map(r)`.
///
/// GGUF stores LLaMA's q/k projections with the rows of each head interleaved
/// (formats-gguf.md §4.3); since each row is a whole number of blocks, the matrix is
/// permuted back by reading rows elsewhere, without decoding or re-quantizing anything.
struct PermutedRows: RowDequantizer {
    let base: any RowDequantizer
    /// Stored row of each logical row; a permutation of `0 ..< rows`.
    let storedRow: [Int]

    var rows: Int { base.rows }
    var columns: Int { base.columns }
    var bytesPerRow: Int { base.bytesPerRow }

    func dequantize(row: Int, into out: UnsafeMutablePointer<Float>) {
        base.dequantize(row: storedRow[row], into: out)
    }

    func dot(row: Int, _ x: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>) -> Float {
        base.dot(row: storedRow[row], x, scratch: scratch)
    }
}

/// A GGML block type without a built-in engine decoder (K-quants below Q4_K, IQ types),
/// decoded row by row by the Quantize module's codec.
struct CodecRows: RowDequantizer {
    let type: GGMLType
    let bytes: ByteSlice
    let rows: Int
    let columns: Int
    let bytesPerRow: Int

    func dequantize(row: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(row >= 0 && row < rows)
        // In bounds: WeightStore checked bytes.count == rows × bytesPerRow.
        let start = bytes.raw.baseAddress.map { UnsafeRawPointer($0) + row * bytesPerRow }
        let src = UnsafeRawBufferPointer(start: start, count: bytesPerRow)
        let dst = UnsafeMutableBufferPointer(start: out, count: columns)
        do { try GGMLCodec.dequantize(type, src, into: dst) } catch {
            // Sizes were checked when the weight was made; a codec refusal is our bug.
            preconditionFailure("\(type.name) row decode: \(error)")
        }
    }
}

/// Where a logical row of a GGUF q/k projection is stored (formats-gguf.md §4.3): the
/// converter's `W.reshape(H, 2, D/2, ...).swapaxes(1, 2)` puts HF row `h·D + i·D/2 + j` at
/// `h·D + 2j + i`.
public func ggufQKStoredRows(rows: Int, heads: Int) -> [Int] {
    guard heads > 0, rows % heads == 0, (rows / heads) % 2 == 0 else { return Array(0..<rows) }
    let d = rows / heads, half = d / 2
    return (0..<rows).map { r in
        let h = r / d, within = r % d
        return h * d + 2 * (within % half) + within / half
    }
}

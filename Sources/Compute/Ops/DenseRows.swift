import CKernels
import Formats

/// Rows of a dense F32, F16 or BF16 [rows, columns] matrix read in place, for matrix-vector
/// products (decode-time inference).
///
/// A graph's F16/BF16 constant is widened to F32 as a whole every time it is evaluated,
/// which is right for a prefill (one pass, then sgemm) and ruinous for decoding one token,
/// where each weight is read once per step. Read through this dequantizer the weight goes
/// down the quantized matmul's matrix-vector path instead: one pass over the stored bytes,
/// rows split across threads, nothing widened or allocated per step.
struct DenseRows: RowDequantizer {
    let dtype: DType
    let bytes: ByteSlice
    let rows: Int
    let columns: Int
    let bytesPerRow: Int

    init(bytes: ByteSlice, dtype: DType, rows: Int, columns: Int) throws(ComputeError) {
        guard dtype == .f32 || dtype == .f16 || dtype == .bf16, let size = dtype.byteSize else {
            throw ComputeError(.dtype("dense rows of \(dtype.rawValue)"), op: "quantized_matmul")
        }
        guard rows >= 0, columns > 0 else {
            throw ComputeError(.shape("[\(rows), \(columns)]"), op: "quantized_matmul")
        }
        self.dtype = dtype
        self.bytes = bytes
        self.rows = rows
        self.columns = columns
        let (perRow, o) = columns.multipliedReportingOverflow(by: size)
        guard !o else { throw ComputeError(.shape("\(columns) columns"), op: "quantized_matmul") }
        bytesPerRow = perRow
        try checkedBytes(rows, perRow, bytes.count, dtype.rawValue)
    }

    @inline(__always)
    func rowStart(_ row: Int) -> UnsafeRawPointer {
        precondition(row >= 0 && row < rows)
        // In bounds: init checked bytes.count == rows × bytesPerRow.
        return UnsafeRawPointer(bytes.raw.baseAddress.unsafelyUnwrapped) + row * bytesPerRow
    }

    func dequantize(row: Int, into out: UnsafeMutablePointer<Float>) {
        Scalars.widen(rowStart(row), columns, from: dtype, into: out)
    }

    func dot(row: Int, _ x: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>) -> Float {
        let p = rowStart(row)
        let xr = UnsafeRawPointer(x)
        var acc0 = SIMD16<Float>(repeating: 0), acc1 = SIMD16<Float>(repeating: 0)
        var i = 0
        switch dtype {
        case .bf16:
            // A bfloat16 is the high half of a float32: word j of 32 bits holds element 2j
            // (low half) and 2j + 1 (high half), widened by a shift and a mask, with x split
            // into its even and odd lanes (no per-element integer conversion).
            while i + 32 <= columns {
                let words = p.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<UInt32>.self)
                let even = unsafeBitCast(words &<< 16, to: SIMD16<Float>.self)
                let odd = unsafeBitCast(words & 0xFFFF_0000, to: SIMD16<Float>.self)
                let xv = xr.loadUnaligned(fromByteOffset: 4 * i, as: SIMD32<Float>.self)
                acc0 += even * xv.evenHalf
                acc1 += odd * xv.oddHalf
                i += 32
            }
        case .f32:
            while i + 32 <= columns {
                let wa = p.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
                let wb = p.loadUnaligned(fromByteOffset: 4 * i + 64, as: SIMD16<Float>.self)
                acc0 += wa * xr.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
                acc1 += wb * xr.loadUnaligned(fromByteOffset: 4 * i + 64, as: SIMD16<Float>.self)
                i += 32
            }
        default:
            break
        }
        var total = (acc0 + acc1).sum()
        if i < columns {
            // The tail (and all of an F16 row): decoded, then multiplied.
            dequantize(row: row, into: scratch)
            while i < columns {
                total += scratch[i] * x[i]
                i += 1
            }
        }
        return total
    }
}

extension DenseRows {
    /// `out[r] = row r · x` for `rows` of a BF16 matrix, in CKernels' vector loop.
    func matvecBF16(rows range: Range<Int>, _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        precondition(dtype == .bf16 && range.lowerBound >= 0 && range.upperBound <= rows)
        // In bounds: init checked bytes.count == rows × bytesPerRow.
        ck_bf16_matvec(bytes.raw.baseAddress, columns, x, range.lowerBound, range.upperBound, out)
    }
}

extension QuantizedWeight {
    /// A dense F32, F16 or BF16 [rows, columns] matrix over `bytes` (little-endian,
    /// row-major), read in place by the matrix-vector kernels: what a decoder step uses so
    /// that a half-precision weight is not widened as a whole at every token.
    /// - Throws: `ComputeError` for another dtype or a byte count that is not rows × columns.
    public static func dense(bytes: ByteSlice, dtype: DType, rows: Int, columns: Int)
        throws(ComputeError) -> QuantizedWeight
    {
        QuantizedWeight(try DenseRows(bytes: bytes, dtype: dtype, rows: rows, columns: columns))
    }
}

extension Tensor {
    /// This tensor as a row reader for matrix-vector products, when it is a 2-D F32, F16 or
    /// BF16 constant over a `ByteSlice` (a weight of a mapped file); nil for anything else
    /// (a view, a computed tensor), which callers then use as a dense tensor.
    public var rowReader: QuantizedWeight? {
        guard rank == 2, case .constant(.bytes(let b)) = node.op else { return nil }
        return try? QuantizedWeight.dense(
            bytes: b, dtype: dtype, rows: shape[0], columns: shape[1])
    }
}

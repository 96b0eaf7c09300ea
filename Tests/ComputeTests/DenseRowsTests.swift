import Compute
import Formats
import Testing

/// Dense matrices read in place by the matrix-vector kernels (`Tensor.rowReader`), and the
/// host buffer a decoder's KV cache lives in.
@Suite("Dense row readers and host buffers")
struct DenseRowsTests {
    /// Little-endian bytes of `values` stored as `dtype` (F32 bits, or the F16/BF16 half).
    static func bytes(_ values: [Float], _ dtype: DType) -> ByteBuffer {
        var out: [UInt8] = []
        for v in values {
            switch dtype {
            case .f32: withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 }
            case .f16: withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { out += $0 }
            default: withUnsafeBytes(of: UInt16(v.bitPattern >> 16).littleEndian) { out += $0 }
            }
        }
        return ByteBuffer(copying: out)
    }

    @Test(
        "A row reader's matrix-vector and matrix products equal the dense matmul",
        arguments: [DType.f32, .f16, .bf16], [64, 70, 576])
    func matchesDense(dtype: DType, columns: Int) throws {
        var r = Rand(7)
        let rows = 37
        let w = Self.bytes(r.floats(rows * columns), dtype)
        let t = try Tensor(bytes: w.all, dtype: dtype, shape: [rows, columns])
        let reader = try #require(t.rowReader)
        #expect(reader.rows == rows && reader.columns == columns)
        for m in [1, 3, 9] {  // matrix-vector path (≤ 4 rows) and the tiled one
            let x = try randn([m, columns], seed: UInt64(m))
            let ours = try x.quantizedMatmul(reader).floats()
            let dense = try x.matmul(try t.cast(.f32).swapAxes(0, 1)).floats()
            #expect(closeness(ours, dense, rtol: 1e-5, atol: 1e-4) <= 1, "m \(m)")
        }
    }

    @Test("Only 2-D constants over bytes get a row reader; sizes are checked")
    func refusals() throws {
        let w = Self.bytes(Array(repeating: 1, count: 12), .bf16)
        let t = try Tensor(bytes: w.all, dtype: .bf16, shape: [3, 4])
        #expect(t.rowReader != nil)
        #expect(try t.reshape([12]).rowReader == nil)
        #expect(try t.swapAxes(0, 1).rowReader == nil)
        #expect(try Tensor([1, 2, 3, 4], shape: [2, 2]).rowReader == nil)
        #expect(throws: ComputeError.self) {
            try QuantizedWeight.dense(bytes: w.all, dtype: .bf16, rows: 4, columns: 4)
        }
        #expect(throws: ComputeError.self) {
            try QuantizedWeight.dense(bytes: w.all, dtype: .i32, rows: 6, columns: 1)
        }
    }

    @Test("A host buffer is read by later evals as written between them")
    func hostBuffer() throws {
        let b = HostBuffer(count: 6)
        let view = try b.tensor(shape: [2, 3]).slice(axis: 1, start: 0, end: 2)
        #expect(try view.floats() == [0, 0, 0, 0])
        [Float(1), 2, 3].withUnsafeBufferPointer { b.write($0, at: 3) }
        #expect(try view.floats() == [0, 0, 1, 2])
        #expect(try (b.tensor(shape: [6]) * Tensor(scalar: 2)).floats() == [0, 0, 0, 2, 4, 6])
        #expect(b[5] == 3)
        #expect(throws: ComputeError.self) { try b.tensor(shape: [7]) }
    }
}

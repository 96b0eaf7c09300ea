import CKernels
import Compute
import Formats
import Testing

/// CKernels' two paths (AVX-512 where the CPU has it, portable C) compute the same products
/// as dequantize-then-matmul. Serialized: the portable switch is process-wide.
@Suite("Vector kernels and their portable path", .serialized)
struct VectorKernelTests {
    /// y from the engine with CKernels forced portable or not.
    func product(_ x: Tensor, _ w: QuantizedWeight, portable: Bool) throws -> [Float] {
        ck_force_portable(portable ? 1 : 0)
        defer { ck_force_portable(0) }
        return try x.quantizedMatmul(w).floats()
    }

    @Test(
        "4-bit affine matvec: vector and portable paths both match dequantize-then-matmul",
        arguments: [DType.f32, .f16, .bf16], [32, 64, 96, 128, 256])
    func affine4(scales: DType, group: Int) throws {
        let c = AffineCase(bits: 4, group: group, scaleDType: scales)
        let cols = group * 40, rows = 53
        let (w, deq) = try c.make(rows: rows, cols: cols, seed: UInt64(group) &* 31 &+ 7)
        let x = try randn([1, cols], seed: 11)
        let dense = try x.matmul(try Tensor(deq, shape: [rows, cols]).transposed()).floats()
        let vector = try product(x, w, portable: false)
        let portable = try product(x, w, portable: true)
        #expect(closeness(vector, dense, rtol: 1e-4, atol: 1e-4) <= 1)
        #expect(closeness(portable, dense, rtol: 1e-4, atol: 1e-4) <= 1)
    }

    @Test("BF16 dense matvec: vector and portable paths match the widened product", arguments: [1, 15, 16, 64, 65, 576, 1000])
    func bf16(cols: Int) throws {
        let rows = 37
        let wf = try randn([rows, cols], seed: UInt64(cols), dtype: .bf16).floats()
        var bytes: [UInt8] = []
        for v in wf { withUnsafeBytes(of: UInt16(truncatingIfNeeded: v.bitPattern >> 16).littleEndian) { bytes += $0 } }
        // An odd offset into the buffer: file data need not be aligned.
        let buffer = ByteBuffer(copying: [0] + bytes)
        let w = try QuantizedWeight.dense(
            bytes: buffer.all.slice(1, bytes.count), dtype: .bf16, rows: rows, columns: cols)
        let x = try randn([1, cols], seed: 3)
        let dense = try x.matmul(try Tensor(wf, shape: [rows, cols]).transposed()).floats()
        #expect(closeness(try product(x, w, portable: false), dense, rtol: 1e-5, atol: 1e-5) <= 1)
        #expect(closeness(try product(x, w, portable: true), dense, rtol: 1e-5, atol: 1e-5) <= 1)
    }
}

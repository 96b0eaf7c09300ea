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

/// `EvalOptions.bf16Products`: a BF16 weight's matrix product with the activations rounded to
/// bfloat16 equals the float32 product of the rounded activations (exact products, float32
/// sums), on every shape edge of the kernel (12 rows of W, 32 tokens, pairs of columns).
@Suite("BF16 products")
struct BF16ProductTests {
    static let shapes: [(Int, Int, Int)] = [
        (5, 12, 32), (31, 11, 33), (32, 13, 1), (33, 24, 2), (64, 25, 31), (100, 50, 576),
        (7, 1, 64), (128, 36, 1536),
    ]

    @Test("equals the float32 product of bfloat16-rounded activations", arguments: shapes.indices)
    func matches(_ i: Int) throws {
        let (m, n, k) = Self.shapes[i]
        let wf = try randn([n, k], seed: UInt64(i) + 1, dtype: .bf16).floats()
        var bytes: [UInt8] = []
        for v in wf { withUnsafeBytes(of: UInt16(truncatingIfNeeded: v.bitPattern >> 16).littleEndian) { bytes += $0 } }
        let w = try QuantizedWeight.dense(
            bytes: ByteBuffer(copying: bytes).all, dtype: .bf16, rows: n, columns: k)
        let xf = try randn([m, k], seed: UInt64(i) + 100).floats()
        let x = try Tensor(xf, shape: [m, k])
        let xRounded = try Tensor(xf, shape: [m, k], dtype: .bf16).floats()
        let want = try Tensor(xRounded, shape: [m, k])
            .matmul(try Tensor(wf, shape: [n, k]).transposed()).floats()
        let y = try x.quantizedMatmul(w)
        let fast = try y.floats(options: EvalOptions(bf16Products: true))
        let plain = try y.floats()
        guard ck_bf16_gemm_available() != 0 else {
            // Without AVX-512 BF16 the option changes nothing.
            #expect(fast == plain)
            return
        }
        #expect(closeness(fast, want, rtol: 1e-5, atol: 1e-5) <= 1)
        // Off, the activations stay float32: a different (more precise) result.
        #expect(closeness(plain, want, rtol: 1e-5, atol: 1e-5) > 1 || k < 2)
        // Rows of W split among threads change nothing.
        #expect(try y.floats(options: EvalOptions(threads: 1, bf16Products: true)) == fast)
    }

    @Test("products sharing an input in one eval reuse its packing; other inputs do not")
    func sharedInput() throws {
        let (m, k) = (40, 64)
        func weight(_ n: Int, _ seed: UInt64) throws -> QuantizedWeight {
            let wf = try randn([n, k], seed: seed, dtype: .bf16).floats()
            var bytes: [UInt8] = []
            for v in wf { withUnsafeBytes(of: UInt16(truncatingIfNeeded: v.bitPattern >> 16).littleEndian) { bytes += $0 } }
            return try QuantizedWeight.dense(
                bytes: ByteBuffer(copying: bytes).all, dtype: .bf16, rows: n, columns: k)
        }
        let (w1, w2, w3) = (try weight(24, 1), try weight(36, 2), try weight(12, 3))
        let x = try randn([m, k], seed: 7)
        let z = try randn([m, k], seed: 8)  // same shape, other values
        let options = EvalOptions(bf16Products: true)
        let outs = try eval(
            [try x.quantizedMatmul(w1), try x.quantizedMatmul(w2), try z.quantizedMatmul(w3),
             try x.quantizedMatmul(w3)], options: options).arrays.map(\.floats)
        #expect(outs[0] == (try x.quantizedMatmul(w1).floats(options: options)))
        #expect(outs[1] == (try x.quantizedMatmul(w2).floats(options: options)))
        #expect(outs[2] == (try z.quantizedMatmul(w3).floats(options: options)))
        #expect(outs[3] == (try x.quantizedMatmul(w3).floats(options: options)))
        #expect(outs[2] != outs[3])
    }
}


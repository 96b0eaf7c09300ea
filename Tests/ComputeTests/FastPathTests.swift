import Compute
import Formats
import Testing

/// The performance paths of issue 5 compute what the plain paths compute.
@Suite("Compute fast paths")
struct FastPathTests {
    @Test("4-bit matvec decodes every finite F16 scale exactly (subnormals, -0, extremes)")
    func halfScales() throws {
        // Row r: scale = half bits r, bias 0, code 1 at column 0, codes 0 elsewhere; x = e0.
        // Then y[r] = scale · 1 + 0, so y is the decoded scale itself.
        let rows = 1 << 16, cols = 32
        var packed = [UInt8](repeating: 0, count: rows * cols / 2)
        var scales: [UInt8] = [], biases: [UInt8] = []
        for r in 0..<rows {
            packed[r * cols / 2] = 1
            scales += [UInt8(r & 0xff), UInt8(r >> 8)]
            biases += [0, 0]
        }
        let w = try QuantizedWeight.affine(
            packed: ByteBuffer(copying: packed).all, scales: ByteBuffer(copying: scales).all,
            biases: ByteBuffer(copying: biases).all, scaleDType: .f16,
            rows: rows, columns: cols, bits: 4, groupSize: 32)
        var xv = [Float](repeating: 0, count: cols)
        xv[0] = 1
        let y = try Tensor(xv, shape: [1, cols]).quantizedMatmul(w).floats()
        var wrong = 0
        for r in 0..<rows {
            let want = Float(Float16(bitPattern: UInt16(r)))
            // inf · 0 in the other lanes is NaN for every path (dequantize-then-matmul too).
            guard want.isFinite else { continue }
            if y[r] != want { wrong += 1 }
        }
        #expect(wrong == 0)
    }

    @Test(
        "4-bit matvec matches dequantize-then-matmul for every group size it takes",
        arguments: [32, 64, 128, 256], [1, 2, 4])
    func matvecGroups(group: Int, m: Int) throws {
        let c = AffineCase(bits: 4, group: group, scaleDType: .f16)
        let (rows, cols) = (37, 512)
        let (w, deq) = try c.make(rows: rows, cols: cols, seed: UInt64(group))
        let x = try randn([m, cols], seed: 5)
        let y = try x.quantizedMatmul(w)
        let dense = try x.matmul(try Tensor(deq, shape: [rows, cols]).transposed())
        #expect(closeness(try y.floats(), try dense.floats(), rtol: 1e-4, atol: 1e-4) <= 1)
        // Rows are split among threads; no sum depends on the split.
        let one = try eval([y], options: EvalOptions(threads: 1)).arrays[0]
        let two = try eval([y], options: EvalOptions(threads: 2)).arrays[0]
        #expect(one == two)
    }

    @Test("SiLU and sigmoid over every float exponent match the reference")
    func logisticRange() throws {
        // ±2^e for e in -30 ... 7, plus the clamp edges and specials. (Below -88.72, e^-x
        // overflows F32: SiLU is -0 where the Double reference still has ~1e-37.)
        var v: [Float] = [0, -0, 80, -80, 88.72, -88.72, 89, -87, 1e4, -1e4, .infinity, -.infinity]
        for e in -30...7 {
            v += [
                Float(sign: .plus, exponent: e, significand: 1.3),
                Float(sign: .minus, exponent: e, significand: 1.7),
            ]
        }
        let x = try Tensor(v, shape: [v.count])
        let s = try expectMatchesReference(try x.silu(), rtol: 3e-7, atol: 1e-37)
        let g = try expectMatchesReference(try x.sigmoid(), rtol: 3e-7, atol: 1e-37)
        // silu(-∞) = -∞ / ∞ is NaN on both backends, as in torch.
        #expect(s[10] == .infinity && s[11].isNaN && g[10] == 1 && g[11] == 0)
        let nan = try Tensor([.nan], shape: [1])
        #expect(try nan.silu().floats()[0].isNaN && nan.sigmoid().floats()[0].isNaN)
    }

    @Test("repeated evals reuse freed buffers and stay bit-identical")
    func bufferReuse() throws {
        // Large enough for the buffer cache (≥ 64 KiB per intermediate).
        let x = try randn([64, 1024], seed: 1), u = try randn([64, 1024], seed: 2)
        let y = try ((x * x + 1).sqrt() * u).silu() + x
        let first = try eval([y]).arrays[0]
        for _ in 0..<3 {
            let unfused = try eval([y], options: EvalOptions(fusion: false)).arrays[0]
            #expect(unfused == first)
            #expect(try eval([y]).arrays[0] == first)
        }
        // A result kept by the caller is never handed out again while alive.
        let kept = try eval([x * 2]).arrays[0]
        let copy = kept.floats
        _ = try eval([u * 3, u + 1])
        #expect(kept.floats == copy)
    }
}

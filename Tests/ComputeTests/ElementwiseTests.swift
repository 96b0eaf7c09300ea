import Compute
import Formats
import Testing

@Suite("Compute elementwise")
struct ElementwiseTests {
    @Test(
        "unary ops match the reference at odd sizes",
        arguments: UnaryOp.allCases, [1, 7, 33, 4097])
    func unary(op: UnaryOp, n: Int) throws {
        let lo: Float = (op == .log || op == .sqrt || op == .rsqrt) ? 0.1 : -3
        let x = try randn([n], seed: UInt64(n), lo: lo, hi: 3)
        try expectMatchesReference(try x.unary(op), rtol: 3e-6, atol: 1e-6)
    }

    @Test(
        "binary ops broadcast like numpy",
        arguments: BinaryOp.allCases,
        [
            ([7, 1, 33], [33]), ([1], [4097]), ([7, 1], [1, 7]), ([], [2, 3]),
            ([3, 1, 5], [4, 1]),
        ])
    func binary(op: BinaryOp, shapes: ([Int], [Int])) throws {
        let a = try randn(shapes.0, seed: 1, lo: 0.5, hi: 2)
        let b = try randn(shapes.1, seed: 2, lo: 0.5, hi: 2)
        let c = try a.binary(op, b)
        try expectMatchesReference(c)
    }

    @Test("exp and SiLU stay accurate at the edges of the float range")
    func expEdges() throws {
        let x = try Tensor(
            [
                -200, -100, -87.4, -20, -1e-7, 0, 1, 20, 88.5, 88.72, 88.8, .infinity, -.infinity,
                .nan,
            ],
            shape: [14])
        let e = try expectMatchesReference(try x.exp(), rtol: 3e-7, atol: 1e-37)
        #expect(e[11] == .infinity && e[12] == 0 && e[13].isNaN && e[5] == 1)
        #expect(e[9].isFinite && e[10] == .infinity)
        let s = try expectMatchesReference(try x.silu(), rtol: 3e-7, atol: 1e-37)
        #expect(s[0] == 0 && s[7] == 20 && s[11] == .infinity)
    }

    @Test("broadcast shapes follow numpy, and mismatches throw")
    func broadcastShapes() throws {
        let a = try randn([7, 1, 33], seed: 1), b = try randn([5, 33], seed: 2)
        #expect(try (a + b).shape == [7, 5, 33])
        let bad = try randn([4], seed: 3)
        #expect(throws: ComputeError.self) { try a + bad }
        #expect(throws: ComputeError.self) { try a.reshape([5, 5]) }
    }

    @Test("values of a small chain are exact")
    func smallChain() throws {
        let x = try Tensor([1, 2, 3, 4], shape: [2, 2])
        let y = try (x * x + 1) / 2
        #expect(try y.floats() == [1, 2.5, 5, 8.5])
        #expect(try (x - 1).sum().item() == 6)
    }

    @Test("non-contiguous views feed elementwise ops without copies")
    func views() throws {
        let x = try randn([6, 33], seed: 5)
        let t = try x.transposed()  // [33, 6], strided
        let s = try x.slice(axis: 1, start: 1, end: 30, step: 3)  // [6, 10]
        let b = try randn([6, 1], seed: 6).broadcast(to: [6, 10])
        let r1 = try expectMatchesReference(try t.exp() * 2)
        let r2 = try expectMatchesReference(try s + b)
        // Check a few values by hand against the contiguous source.
        let xs = try x.floats()
        #expect(r1[1 * 6 + 4] == libmExp(xs[4 * 33 + 1]) * 2)
        let bs = try randn([6, 1], seed: 6).floats()
        #expect(r2[2 * 10 + 3] == xs[2 * 33 + 1 + 3 * 3] + bs[2])
        let e = try eval([try t.exp()])
        #expect(e.stats.kernels == 1)
    }

    @Test("where selects with broadcasting; comparisons give 0/1")
    func select() throws {
        let x = try Tensor([-2, -1, 0, 1, 2, 3], shape: [2, 3])
        let zero = Tensor(scalar: 0)
        let y = try Tensor.where(try x.binary(.greater, zero), x, try x * 10)
        #expect(try y.floats() == [-20, -10, 0, 1, 2, 3])
        try expectMatchesReference(y)
    }

    @Test("F16 and BF16 round to nearest even at every op")
    func halfRounding() throws {
        // 1 + 2^-11 is halfway between F16 1 and 1 + 2^-10: ties to even (1).
        let a = try Tensor([1 + 0x1p-11, 1 + 3 * 0x1p-11, 65520, 1e-8], shape: [4])
        let h = try a.cast(.f16).floats()
        #expect(h == [1, 1 + 2 * 0x1p-10, .infinity, 0])
        let b = try a.cast(.bf16).floats()
        #expect(b[0] == 1)
        #expect(b[2] == 65536)
        // An F16 sum rounds its result: 2048 + 1 is not representable in F16.
        let x = try Tensor([2048], shape: [1], dtype: .f16),
            one = try Tensor([1], shape: [1], dtype: .f16)
        #expect(try (x + one).floats() == [2048])
        #expect(try (x + one).dtype == .f16)
        #expect(try (x.cast(.f32) + one).floats() == [2049])
        let c = try randn([33], seed: 9, dtype: .bf16)
        let r = try expectMatchesReference(try c.exp() * c)
        #expect(r.allSatisfy { Float(bitPattern: $0.bitPattern & 0xFFFF_0000) == $0 })
    }

    @Test("casts to I32 truncate toward zero")
    func castInt() throws {
        let a = try Tensor([-1.7, -0.5, 0.5, 2.9], shape: [4])
        #expect(try a.cast(.i32).int32s() == [-1, 0, 0, 2])
        let ids = try Tensor(int32s: [3, -4], shape: [2])
        #expect(try (ids.cast(.f32) * 2).floats() == [6, -8])
    }

    @Test("constants over ByteSlices read F32 in place and widen F16")
    func byteConstants() throws {
        let floats: [Float] = [1, -2, 3.5, 0.25]
        var bytes: [UInt8] = []
        for f in floats { withUnsafeBytes(of: f.bitPattern.littleEndian) { bytes += $0 } }
        for f in floats { withUnsafeBytes(of: Float16(f).bitPattern.littleEndian) { bytes += $0 } }
        let buf = ByteBuffer(copying: bytes)
        let f32 = try Tensor(bytes: try buf.all.slice(0, 16), dtype: .f32, shape: [2, 2])
        let f16 = try Tensor(bytes: try buf.all.slice(16, 8), dtype: .f16, shape: [2, 2])
        let e = try eval([f32, f16, try f32 + f16])
        #expect(e.arrays[0].floats == floats)
        #expect(e.arrays[1].floats == floats)
        #expect(e.arrays[2].floats == floats.map { 2 * $0 })
        #expect(throws: ComputeError.self) { try Tensor(bytes: buf.all, dtype: .f32, shape: [3]) }
    }
}

#if canImport(Glibc)
    import Glibc
    func libmExp(_ x: Float) -> Float { expf(x) }
#endif

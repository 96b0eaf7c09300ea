import Compute
import Formats
import Testing

@Suite("Compute row-blocked groups: a reduction and its epilogue, a block of rows at a time")
struct RowGroupTests {
    /// `x * rsqrt(mean(x², -1) + 1e-5) * w`, then `silu(·) * u`: the fusion bench's graph.
    func gate(_ x: Tensor, _ w: Tensor, _ u: Tensor) throws -> Tensor {
        let ms = try (x * x).mean(axes: [-1], keepDims: true)
        let h = try x * (try (ms + 1e-5).rsqrt()) * w
        return try h.silu() * u
    }

    /// Evaluates `outputs` grouped (threads 1 and 2), unfused and on the reference backend;
    /// expects every CPU result bit-identical and within tolerance of the reference.
    @discardableResult
    func expectAgree(
        _ outputs: [Tensor], rtol: Float = 1e-4, atol: Float = 1e-5,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Evaluation {
        let one = try eval(outputs, options: EvalOptions(threads: 1))
        let two = try eval(outputs, options: EvalOptions(threads: 2))
        let unfused = try eval(outputs, options: EvalOptions(fusion: false, threads: 2))
        let ref = try eval(outputs, options: EvalOptions(backend: .reference))
        #expect(one.arrays == two.arrays, "threads 1 vs 2", sourceLocation: sourceLocation)
        #expect(two.arrays == unfused.arrays, "grouped vs unfused", sourceLocation: sourceLocation)
        #expect(unfused.stats.groupedKernels == 0, sourceLocation: sourceLocation)
        for (a, r) in zip(two.arrays, ref.arrays) {
            let c = closeness(a.floats, r.floats, rtol: rtol, atol: atol)
            #expect(c <= 1, "vs reference: \(c)× tolerance", sourceLocation: sourceLocation)
        }
        return two
    }

    @Test("the RMSNorm + SiLU-gate chain is one group of 3 kernels reading x and u once")
    func plan() throws {
        let (r, d) = (64, 256)
        let x = try randn([r, d], seed: 1), u = try randn([r, d], seed: 2)
        let w = try randn([d], seed: 3)
        let y = try gate(x, w, u)
        let fused = try eval([y]).stats
        let unfused = try eval([y], options: EvalOptions(fusion: false)).stats
        #expect(fused.kernels == 3)
        #expect(fused.groupedKernels == 3)
        #expect(unfused.kernels == 8)
        #expect(unfused.groupedKernels == 0)
        // From memory: x, u, w and the scalar eps once; written: mean, scale, y.
        #expect(fused.bytesRead == (2 * r * d + d + 1) * 4)
        #expect(fused.bytesWritten == (r + r + r * d) * 4)
        // From cache: x again (the epilogue), the mean and the scale of the block's rows.
        #expect(fused.cachedBytesRead == (r * d + r + r) * 4)
        #expect(unfused.cachedBytesRead == 0)
        #expect(fused.bytesMoved * 3 < unfused.bytesMoved)
        // All three outputs are alive while the group runs, and nothing else.
        #expect(fused.peakBytes == (r + r + r * d) * 4)
        #expect(fused.allocatedBytes == fused.peakBytes)
    }

    @Test(
        "grouped results equal unfused ones bit for bit at odd shapes",
        arguments: [1, 7, 33], [1, 7, 33, 4097])
    func oddShapes(rows: Int, dim: Int) throws {
        let x = try randn([rows, dim], seed: 4, lo: -3, hi: 3)
        let u = try randn([rows, dim], seed: 5), w = try randn([dim], seed: 6)
        let e = try expectAgree([try gate(x, w, u)])
        // At D = 1 the [rows, 1] scale has the epilogue's shape and is inlined into it.
        #expect(e.stats.groupedKernels == (dim == 1 ? 2 : 3))
        #expect(e.stats.groupedKernels == e.stats.kernels)
    }

    @Test("broadcast and strided leaves: per-row, per-column, scalar, transposed")
    func broadcastLeaves() throws {
        let (r, d) = (33, 70)
        let x = try randn([d, r], seed: 7).transposed()  // [r, d], column-major
        let rowScale = try randn([r, 1], seed: 8), col = try randn([1, d], seed: 9)
        let ms = try (x * rowScale).mean(axes: [-1], keepDims: true)
        let y = try ((x - ms) * col * 0.5 + rowScale).silu() * x
        let e = try expectAgree([y])
        #expect(e.stats.groupedKernels == 2)
    }

    @Test("a reduction that is also an output of the graph")
    func reductionOutput() throws {
        let x = try randn([7, 4097], seed: 10), w = try randn([4097], seed: 11)
        let ms = try (x * x).mean(axes: [-1], keepDims: true)
        let y = try x * (try (ms + 1e-5).rsqrt()) * w
        let e = try expectAgree([y, ms])
        #expect(e.stats.groupedKernels == 3)
        #expect(e.arrays[1].shape == [7, 1])
    }

    @Test("keepDims false: a [rows] reduction and a [rows] epilogue form a group")
    func keepDimsFalse() throws {
        let x = try randn([33, 129], seed: 12)
        let s = try (x.exp() * x).sum(axes: [-1])  // [33]
        let t = try (s * s + 1).sqrt()  // [33], reads s twice
        let z = try x / t.reshape([33, 1])  // after a view: outside the group
        let e = try expectAgree([t, z, s])
        #expect(e.stats.groupedKernels == 2)
    }

    @Test("a [rows] reduction broadcast along the columns is not row-local: no group")
    func columnBroadcast() throws {
        let x = try randn([33, 33], seed: 13)
        let s = try x.sum(axes: [-1])  // [33] broadcasts as [1, 33]: column j reads s[j]
        let y = try x * s
        let e = try expectAgree([y])
        #expect(e.stats.groupedKernels == 0)
    }

    @Test("a chain of [rows, 1] kernels between the reduction and its consumer")
    func rowChain() throws {
        let x = try randn([33, 4097], seed: 14), w = try randn([4097], seed: 15)
        let ms = try (x * x).mean(axes: [-1], keepDims: true)
        let r = try (ms + 1e-5).rsqrt()  // read 3 times: stored
        let s = try r * r + r  // [33, 1], its own kernel
        let y = try (x * s * w).silu()
        let e = try expectAgree([y])
        #expect(e.stats.kernels == 4)
        #expect(e.stats.groupedKernels == 4)
    }

    @Test("max and logsumexp rows with their epilogue, F16 outputs rounded alike")
    func otherReductions() throws {
        let x = try randn([9, 1500], seed: 16, lo: -20, hi: 20)
        let m = try x.max(axes: [-1], keepDims: true)
        let lse = try x.logsumexp(axes: [-1], keepDims: true)
        let y = try (x - m).exp() + (x - lse)
        try expectAgree([y])
        let h = try randn([9, 1500], seed: 17, dtype: .f16)
        let z = try h / (try h.abs().sum(axes: [-1], keepDims: true) + 1)
        // The sum, `sum + 1` ([9, 1]) and the division.
        #expect(try expectAgree([z], rtol: 2e-3, atol: 1e-4).stats.groupedKernels == 3)
    }
}

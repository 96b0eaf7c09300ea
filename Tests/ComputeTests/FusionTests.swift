import Compute
import Formats
import Testing

@Suite("Compute fusion, memory, determinism")
struct FusionTests {
    func rmsChain(_ x: Tensor, _ w: Tensor) throws -> Tensor {
        let ms = try (x * x).mean(axes: [-1], keepDims: true)
        return try x * (try (ms + 1e-5).rsqrt()) * w
    }

    @Test("an RMSNorm chain runs as 2 passes over x plus a tiny kernel, not 6 kernels")
    func rmsNormChain() throws {
        let x = try randn([128, 576], seed: 1), w = try randn([576], seed: 2)
        let y = try rmsChain(x, w)
        let fused = try eval([y])
        let unfused = try eval([y], options: EvalOptions(fusion: false))
        #expect(fused.stats.kernels == 3)
        #expect(unfused.stats.kernels == 6)
        #expect(fused.stats.bytesMoved * 2 < unfused.stats.bytesMoved)
        // Fusion changes the loops, not a single bit of the result.
        #expect(fused.arrays[0].floats == unfused.arrays[0].floats)
        let ref = try eval([y], options: EvalOptions(backend: .reference)).arrays[0].floats
        #expect(closeness(fused.arrays[0].floats, ref, rtol: 1e-5, atol: 1e-6) <= 1)
    }

    @Test("a SiLU-gate chain is one kernel")
    func siluGate() throws {
        let a = try randn([7, 4097], seed: 1), b = try randn([7, 4097], seed: 2)
        let y = try a.silu() * b
        let e = try eval([y])
        #expect(e.stats.kernels == 1)
        #expect(e.stats.bytesWritten == 7 * 4097 * 4)
        #expect(e.stats.bytesRead == 2 * 7 * 4097 * 4)
        #expect(try eval([y], options: EvalOptions(fusion: false)).stats.kernels == 2)
        try expectMatchesReference(y, rtol: 1e-5)
    }

    @Test("a node read twice is stored once, not recomputed")
    func sharedNode() throws {
        let x = try randn([33], seed: 3)
        let e = try x.exp()
        let y = try e * e + e
        let r = try eval([y])
        #expect(r.stats.kernels == 2)
        try expectMatchesReference(y)
    }

    @Test("intermediates are freed after their last use: peak ≈ live set")
    func peakMemory() throws {
        var y = try randn([256, 256], seed: 1)
        let size = 256 * 256 * 4
        for _ in 0..<12 { y = try y.softmax(axis: -1).transposed() }
        let e = try eval([y])
        #expect(e.stats.allocatedBytes == 12 * size)
        #expect(e.stats.peakBytes <= 2 * size)
    }

    @Test("peak memory of a stack of transformer blocks stays at one block's live set")
    func blockPeak() throws {
        let block = try TinyBlock(hidden: 64, heads: 4, kvHeads: 2, ffn: 256)
        let x = try randn([128, 64], seed: 9)
        let one = try eval([try block(x)]).stats
        var y = x
        for _ in 0..<4 { y = try block(y) }
        let four = try eval([y]).stats
        #expect(four.allocatedBytes > 3 * one.allocatedBytes)
        #expect(four.peakBytes <= one.peakBytes + 128 * 64 * 4)
        #expect(four.peakBytes * 4 < four.allocatedBytes)
    }

    @Test("an elementwise kernel reuses the buffer of an input it reads last")
    func inPlace() throws {
        let a = try randn([64, 64], seed: 1), b = try randn([64, 64], seed: 2)
        let m = try a.matmul(b)  // a stored intermediate
        let y = try (m.silu() * 2).softmax(axis: -1)
        let e = try eval([y])
        #expect(e.stats.allocatedBytes == 2 * 64 * 64 * 4)  // matmul and softmax outputs only
        try expectMatchesReference(y, rtol: 1e-4, atol: 1e-6)
    }

    @Test("a transformer block matches the reference and is bit-identical across thread counts")
    func blockDeterminism() throws {
        let block = try TinyBlock()
        let x = try randn([7, 64], seed: 5)
        let y = try block(x)
        let ref = try eval([y], options: EvalOptions(backend: .reference)).arrays[0].floats
        let a = try eval([y], options: EvalOptions(threads: 1)).arrays[0].floats
        let b = try eval([y], options: EvalOptions(threads: 8)).arrays[0].floats
        let c = try eval([y]).arrays[0].floats
        #expect(a == b)
        #expect(b == c)
        #expect(closeness(a, ref, rtol: 1e-4, atol: 1e-5) <= 1)
    }

    @Test("large elementwise and reduction outputs are identical whatever the thread count")
    func threads() throws {
        let x = try randn([33, 4097], seed: 7)
        let y = try (x.exp() * x).sum(axes: [1])
        let z = try x.tanh().softmax(axis: 0)
        let one = try eval([y, z], options: EvalOptions(threads: 1)).arrays
        let many = try eval([y, z], options: EvalOptions(threads: 16)).arrays
        #expect(one == many)
    }

    @Test("nothing runs while building; eval can be repeated")
    func lazy() throws {
        let x = try Tensor([1, 2, 3], shape: [3])
        let bad = try x.take(try Tensor(int32s: [7], shape: [1]), axis: 0)  // no throw yet
        let y = try x * 2
        #expect(try y.floats() == [2, 4, 6])
        #expect(try y.floats() == [2, 4, 6])
        #expect(throws: ComputeError.self) { try bad.floats() }
    }
}

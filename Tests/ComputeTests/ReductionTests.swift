import Compute
import Formats
import Testing

@Suite("Compute reductions")
struct ReductionTests {
    static let axesCases: [([Int], [Int]?)] = [
        ([4097], [0]), ([7, 33], [1]), ([7, 33], [0]), ([3, 5, 7], [0, 2]), ([3, 5, 7], nil),
        ([1, 7, 1], [0, 2]), ([2, 3, 4, 5], [1, 3]),
    ]

    @Test("reductions along axes match the reference", arguments: ReduceOp.allCases, axesCases)
    func reduce(op: ReduceOp, c: ([Int], [Int]?)) throws {
        let x = try randn(c.0, seed: 3, lo: -4, hi: 4)
        let r = try x.reduce(op, axes: c.1)
        try expectMatchesReference(r, rtol: 1e-5, atol: 1e-5)
        let k = try x.reduce(op, axes: c.1, keepDims: true)
        #expect(k.rank == x.rank)
        #expect(try k.floats() == r.floats())
    }

    @Test("reductions of strided views and of fused inputs")
    func stridedAndFused() throws {
        let x = try randn([33, 7], seed: 4)
        let t = try x.transposed()
        try expectMatchesReference(try t.sum(axes: [1]))
        try expectMatchesReference(try (t * t).mean(axes: [0]))
        let e = try eval([try (t * t + 1).sum(axes: [1])])
        #expect(e.stats.kernels == 1)  // the square and add run inside the reduction
    }

    @Test("known values: sum, mean, max, logsumexp")
    func values() throws {
        let x = try Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        #expect(try x.sum(axes: [1]).floats() == [6, 15])
        #expect(try x.mean(axes: [0]).floats() == [2.5, 3.5, 4.5])
        #expect(try x.max().item() == 6)
        let big = try Tensor([1000, 1000], shape: [2])
        #expect(Swift.abs(try big.logsumexp().item() - 1000.6931472) < 1e-3)
        let ninf = try Tensor([-.infinity, -.infinity], shape: [2])
        #expect(try ninf.logsumexp().item() == -.infinity)
    }

    @Test("argmax returns the first maximum as I32")
    func argmax() throws {
        let x = try Tensor([1, 5, 5, 2, 9, 9, 0, 9], shape: [2, 4])
        #expect(try x.argmax(axis: 1).int32s() == [1, 0])
        #expect(try x.argmax(axis: 0).int32s() == [1, 1, 0, 1])
        let r = try randn([7, 33], seed: 8)
        #expect(
            try r.argmax(axis: -1).int32s()
                == eval([try r.argmax(axis: -1)], options: EvalOptions(backend: .reference)).arrays[
                    0
                ].int32s)
    }

    @Test(
        "softmax along any axis, also of views",
        arguments: [([7, 33], -1), ([7, 33], 0), ([1], 0), ([2, 4097], 1)])
    func softmax(c: ([Int], Int)) throws {
        let x = try randn(c.0, seed: 11, lo: -10, hi: 10)
        let r = try expectMatchesReference(try x.softmax(axis: c.1))
        let sums = try (try x.softmax(axis: c.1)).sum(axes: [c.1]).floats()
        #expect(sums.allSatisfy { Swift.abs($0 - 1) < 1e-5 })
        #expect(r.allSatisfy { $0 >= 0 && $0 <= 1 })
        if x.rank == 2 { try expectMatchesReference(try x.transposed().softmax(axis: -1)) }
    }

    @Test("bad axes throw")
    func badAxes() throws {
        let x = try randn([2, 3], seed: 1)
        #expect(throws: ComputeError.self) { try x.sum(axes: [2]) }
        #expect(throws: ComputeError.self) { try x.sum(axes: [1, -1]) }
        #expect(throws: ComputeError.self) { try x.softmax(axis: -3) }
    }
}

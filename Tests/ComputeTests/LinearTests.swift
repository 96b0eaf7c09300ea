import Compute
import Formats
import Testing

@Suite("Compute matmul and data movement")
struct LinearTests {
    @Test(
        "matmul matches the reference at odd sizes",
        arguments: [(1, 1, 1), (7, 33, 1), (1, 33, 7), (33, 7, 33), (7, 4097, 3)])
    func matmul(m: Int, k: Int, n: Int) throws {
        let a = try randn([m, k], seed: 1), b = try randn([k, n], seed: 2)
        try expectMatchesReference(try a.matmul(b), rtol: 1e-4, atol: 1e-5)
    }

    @Test("transposed and strided operands, batch broadcasting")
    func layouts() throws {
        let a = try randn([3, 7, 33], seed: 1)
        let bT = try randn([5, 33], seed: 2)  // used as b = bT.T
        try expectMatchesReference(try a.matmul(try bT.transposed()), rtol: 1e-4, atol: 1e-5)
        let aT = try randn([3, 33, 7], seed: 3).swapAxes(-1, -2)  // [3, 7, 33] transposed view
        let b = try randn([1, 33, 4], seed: 4)  // batch broadcast
        try expectMatchesReference(try aT.matmul(b), rtol: 1e-4, atol: 1e-5)
        let strided = try randn([7, 66], seed: 5).slice(axis: 1, start: 0, end: 66, step: 2)
        try expectMatchesReference(
            try strided.matmul(try randn([33, 2], seed: 6)), rtol: 1e-4, atol: 1e-5)
        let v = try randn([33], seed: 7)
        #expect(try a.matmul(v).shape == [3, 7])
        try expectMatchesReference(try a.matmul(v), rtol: 1e-4, atol: 1e-5)
        #expect(throws: ComputeError.self) { try a.matmul(try randn([7, 5], seed: 1)) }
        #expect(throws: ComputeError.self) { try a.matmul(try randn([2, 33, 5], seed: 1)) }
    }

    @Test("a transposed operand is not copied")
    func transposeNotCopied() throws {
        let a = try randn([64, 64], seed: 1), b = try randn([64, 64], seed: 2)
        let e = try eval([try a.matmul(try b.transposed())])
        #expect(e.stats.kernels == 1)
        #expect(e.stats.allocatedBytes == 64 * 64 * 4)
    }

    @Test("reshape, transpose, slice, concat, take and embedding")
    func movement() throws {
        let x = try Tensor((0..<24).map(Float.init), shape: [2, 3, 4])
        #expect(try x.reshape([4, -1]).shape == [4, 6])
        #expect(try x.transposed([2, 0, 1]).reshape([-1]).floats().prefix(4) == [0, 4, 8, 12])
        #expect(
            try x.slice(axis: 2, start: 1, end: 4, step: 2).floats() == [
                1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23,
            ])
        #expect(try x.slice(axis: 0, start: -1, end: 99).floats() == (12..<24).map(Float.init))
        let c = try Tensor.concat([x, try x * 2], axis: 1)
        #expect(c.shape == [2, 6, 4])
        try expectMatchesReference(c)
        try expectMatchesReference(
            try Tensor.concat([try x.transposed(), try x.transposed()], axis: 0))
        let ids = try Tensor(int32s: [2, 0, -1], shape: [3])
        #expect(try x.take(ids, axis: 2).shape == [2, 3, 3])
        try expectMatchesReference(try x.take(ids, axis: 1))
        let table = try randn([11, 7], seed: 3)
        let tokens = try Tensor(int32s: [10, 0, 3, 3], shape: [2, 2])
        let emb = try table.embedding(tokens)
        #expect(emb.shape == [2, 2, 7])
        let rows = try emb.floats(), t = try table.floats()
        #expect(Array(rows[0..<7]) == Array(t[70..<77]))
        let bad = try table.embedding(try Tensor(int32s: [11], shape: [1]))
        #expect(throws: ComputeError.self) { try bad.floats() }
        #expect(throws: ComputeError.self) {
            try bad.floats(options: EvalOptions(backend: .reference))
        }
    }
}

import Compute
import Formats
import Testing

@Suite("Compute 16-bit results and empty shapes")
struct DTypeEdgeTests {
    @Test("ops yielding F16/BF16 round their results", arguments: [DType.f16, .bf16])
    func rounded(dtype: DType) throws {
        let x = try randn([7, 33], seed: 1, dtype: dtype),
            w = try randn([33], seed: 2, dtype: dtype)
        let m = try randn([33, 5], seed: 3, dtype: dtype)
        let outs = [
            try x.matmul(m), try x.softmax(axis: -1), try x.rmsNorm(weight: w, eps: 1e-5),
            try x.sum(axes: [1]), try x.silu() * x,
            try x.rope(layout: .interleaved, offset: 1, dims: 32),
        ]
        for t in outs {
            #expect(t.dtype == dtype)
            let v = try expectMatchesReference(t, rtol: 1e-2, atol: 1e-3)
            let again = try Tensor(v, shape: t.shape, dtype: dtype).floats()
            #expect(again == v)  // already representable: rounding is a no-op
        }
        // Mixed 16-bit inputs promote to F32.
        #expect(try (x + (try x.cast(dtype == .f16 ? .bf16 : .f16))).dtype == .f32)
    }

    @Test("empty shapes evaluate to empty results")
    func empty() throws {
        let e = try Tensor([], shape: [0, 5])
        #expect(try (e * 2).floats().isEmpty)
        #expect(try e.sum(axes: [0]).floats() == [0, 0, 0, 0, 0])
        #expect(try e.softmax(axis: -1).shape == [0, 5])
        let z = try Tensor([], shape: [3, 0]).matmul(try Tensor([], shape: [0, 2]))
        #expect(try z.floats() == [0, 0, 0, 0, 0, 0])
        #expect(try z.floats(options: EvalOptions(backend: .reference)) == [0, 0, 0, 0, 0, 0])
        #expect(throws: ComputeError.self) { try e.max(axes: [0]) }
    }
}

import Compute
import Formats
import Testing

@Suite("Compute transformer ops")
struct NNTests {
    @Test(
        "RMSNorm and LayerNorm match the reference", arguments: [[1, 1], [7, 33], [2, 3, 4097]])
    func norms(shape: [Int]) throws {
        let x = try randn(shape, seed: 1, lo: -3, hi: 3)
        let w = try randn([shape.last ?? 1], seed: 2), b = try randn([shape.last ?? 1], seed: 3)
        try expectMatchesReference(try x.rmsNorm(weight: w, eps: 1e-5), rtol: 1e-5, atol: 1e-5)
        try expectMatchesReference(
            try x.layerNorm(weight: w, bias: b, eps: 1e-5), rtol: 1e-4, atol: 1e-5)
        // The fused op equals the chain it names.
        let chain = try x * (try (try (x * x).mean(axes: [-1], keepDims: true) + 1e-5).rsqrt()) * w
        let c = closeness(
            try x.rmsNorm(weight: w, eps: 1e-5).floats(), try chain.floats(), rtol: 1e-5, atol: 1e-6
        )
        #expect(c <= 1)
    }

    @Test(
        "rotary embedding, interleaved and half-split",
        arguments: [RopeLayout.interleaved, .halfSplit])
    func rope(layout: RopeLayout) throws {
        let x = try randn([1, 2, 7, 8], seed: 4)
        try expectMatchesReference(
            try x.rope(base: 10000, layout: layout, offset: 3), rtol: 1e-5, atol: 1e-5)
        try expectMatchesReference(
            try x.rope(base: 500, layout: layout, dims: 4), rtol: 1e-5, atol: 1e-5)
        // Position 0 is the identity.
        let first = try x.slice(axis: 2, start: 0, end: 1)
        #expect(try first.rope(layout: layout).floats() == first.floats())
        // Interleaved and half-split agree after permuting the pairs.
        #expect(throws: ComputeError.self) { try x.rope(layout: layout, dims: 3) }
    }

    @Test(
        "attention: causal, grouped-query, queries at the end of the keys",
        arguments: [
            (4, 2, 7, 7, true), (4, 1, 3, 9, true), (2, 2, 5, 5, false), (2, 2, 1, 33, true),
        ])
    func attention(hq: Int, hkv: Int, t: Int, s: Int, causal: Bool) throws {
        let q = try randn([2, hq, t, 8], seed: 1), k = try randn([2, hkv, s, 8], seed: 2)
        let v = try randn([2, hkv, s, 8], seed: 3)
        let o = try Tensor.attention(q: q, k: k, v: v, causal: causal)
        try expectMatchesReference(o, rtol: 1e-4, atol: 1e-5)
        // Same as the composed ops on repeated kv heads.
        if hq == hkv {
            var scores = try q.matmul(try k.swapAxes(-1, -2)) * (1 / Float(8).squareRoot())
            if causal {
                var mask: [Float] = []
                for i in 0..<t { for j in 0..<s { mask.append(j <= i + s - t ? 0 : -.infinity) } }
                scores = try scores + (try Tensor(mask, shape: [t, s]))
            }
            let composed = try scores.softmax(axis: -1).matmul(v)
            #expect(closeness(try o.floats(), try composed.floats(), rtol: 1e-4, atol: 1e-5) <= 1)
        }
        #expect(throws: ComputeError.self) {
            try Tensor.attention(
                q: q, k: try randn([2, 3, s, 8], seed: 1), v: try randn([2, 3, s, 8], seed: 1),
                causal: causal)
        }
    }

    @Test("GELU and SiLU known values")
    func activations() throws {
        let x = try Tensor([0, 1, -1], shape: [3])
        let g = try x.gelu().floats()
        #expect(Swift.abs(g[1] - 0.8413447) < 1e-6 && Swift.abs(g[2] + 0.1586553) < 1e-6)
        let gt = try x.gelu(approximate: true).floats()
        #expect(Swift.abs(gt[1] - 0.8411920) < 1e-6)
        let s = try x.silu().floats()
        #expect(s[0] == 0 && Swift.abs(s[1] - 0.7310586) < 1e-6)
    }
}

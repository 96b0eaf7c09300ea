import Compute
import Formats

/// A small LLaMA-style block (RMSNorm, GQA attention with rope, SiLU-gated MLP), built
/// from the engine's ops: what `verify` runs, in miniature.
struct TinyBlock {
    let hidden: Int, heads: Int, kvHeads: Int, ffn: Int
    let wq: Tensor, wk: Tensor, wv: Tensor, wo: Tensor, w1: Tensor, w2: Tensor, w3: Tensor
    let n1: Tensor, n2: Tensor

    init(hidden: Int = 64, heads: Int = 4, kvHeads: Int = 2, ffn: Int = 96, seed: UInt64 = 1) throws
    {
        self.hidden = hidden
        self.heads = heads
        self.kvHeads = kvHeads
        self.ffn = ffn
        let hd = hidden / heads
        let s = 1 / Float(hidden).squareRoot()
        wq = try randn([hidden, hidden], seed: seed, lo: -s, hi: s)
        wk = try randn([kvHeads * hd, hidden], seed: seed + 1, lo: -s, hi: s)
        wv = try randn([kvHeads * hd, hidden], seed: seed + 2, lo: -s, hi: s)
        wo = try randn([hidden, hidden], seed: seed + 3, lo: -s, hi: s)
        w1 = try randn([ffn, hidden], seed: seed + 4, lo: -s, hi: s)
        w3 = try randn([ffn, hidden], seed: seed + 5, lo: -s, hi: s)
        w2 = try randn([hidden, ffn], seed: seed + 6, lo: -s, hi: s)
        n1 = try randn([hidden], seed: seed + 7, lo: 0.5, hi: 1.5)
        n2 = try randn([hidden], seed: seed + 8, lo: 0.5, hi: 1.5)
    }

    /// x [T, hidden] → [T, hidden].
    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let t = x.shape[0], hd = hidden / heads
        let h = try x.rmsNorm(weight: n1, eps: 1e-5)
        func project(_ w: Tensor, _ n: Int) throws -> Tensor {
            try h.matmul(try w.transposed()).reshape([1, t, n, hd]).transposed([0, 2, 1, 3])
        }
        let q = try project(wq, heads).rope(layout: .halfSplit)
        let k = try project(wk, kvHeads).rope(layout: .halfSplit)
        let v = try project(wv, kvHeads)
        let a = try Tensor.attention(q: q, k: k, v: v, causal: true)
        let merged = try a.transposed([0, 2, 1, 3]).reshape([t, hidden])
        let x2 = try x + merged.matmul(try wo.transposed())
        let m = try x2.rmsNorm(weight: n2, eps: 1e-5)
        let gate = try m.matmul(try w1.transposed()).silu() * m.matmul(try w3.transposed())
        return try x2 + gate.matmul(try w2.transposed())
    }
}

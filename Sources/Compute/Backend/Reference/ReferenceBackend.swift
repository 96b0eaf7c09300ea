import Formats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The oracle: every node materialized, plain index loops, arithmetic and accumulation in
/// Double, each result rounded once to its dtype. Slow and obvious on purpose.
struct ReferenceBackend {
    struct Array {
        var data: [Double]
        var shape: [Int]
    }

    func run(_ outputs: [Node]) throws(ComputeError) -> Evaluation {
        let order = Schedule.topologicalOrder(outputs)
        var values: [ObjectIdentifier: Array] = [:]
        var stats = EvalStats()
        for node in order {
            let ins = node.inputs.map { values[$0.id].unsafelyUnwrapped }
            var out = try compute(node, ins)
            round(&out.data, node.dtype)
            switch node.op {
            case .constant: break
            default: if !node.op.isView { stats.kernels += 1 }
            }
            values[node.id] = out
        }
        let arrays = outputs.map { n -> HostArray in
            let a = values[n.id].unsafelyUnwrapped
            let s = Storage(elements: a.data.count, tracker: nil)
            for i in a.data.indices {
                if n.dtype == .i32 {
                    s.ints[i] = Int32(a.data[i])
                } else {
                    s.floats[i] = Float(a.data[i])
                }
            }
            return HostArray(shape: n.shape, dtype: n.dtype, storage: s, offset: 0)
        }
        return Evaluation(arrays: arrays, stats: stats)
    }

    func round(_ d: inout [Double], _ dtype: DType) {
        switch dtype {
        case .f16: for i in d.indices { d[i] = Double(Scalars.roundHalf(Float(d[i]))) }
        case .bf16: for i in d.indices { d[i] = Double(Scalars.roundBFloat(Float(d[i]))) }
        case .i32: for i in d.indices { d[i] = Double(Scalars.toInt32(Float(d[i]))) }
        default: for i in d.indices { d[i] = Double(Float(d[i])) }
        }
    }

    /// Multi-index of flat `i` in `shape`.
    func unravel(_ i: Int, _ shape: [Int]) -> [Int] {
        var r = [Int](repeating: 0, count: shape.count)
        var i = i
        for a in stride(from: shape.count - 1, through: 0, by: -1) {
            r[a] = i % shape[a]
            i /= shape[a]
        }
        return r
    }

    /// Flat index in `shape` of `idx` right-aligned and broadcast (size-1 dims read 0).
    func ravelBroadcast(_ idx: [Int], _ shape: [Int]) -> Int {
        let pad = idx.count - shape.count
        var f = 0
        for a in 0..<shape.count { f = f * shape[a] + (shape[a] == 1 ? 0 : idx[pad + a]) }
        return f
    }

    static func unary(_ op: UnaryOp, _ x: Double) -> Double {
        switch op {
        case .neg: -x
        case .exp: Glibc.exp(x)
        case .log: Glibc.log(x)
        case .sqrt: x.squareRoot()
        case .rsqrt: 1 / x.squareRoot()
        case .tanh: Glibc.tanh(x)
        case .erf: Glibc.erf(x)
        case .abs: Swift.abs(x)
        case .square: x * x
        case .silu: x / (1 + Glibc.exp(-x))
        case .sigmoid: 1 / (1 + Glibc.exp(-x))
        case .geluErf: 0.5 * x * (1 + Glibc.erf(x / 2.0.squareRoot()))
        case .geluTanh:
            0.5 * x * (1 + Glibc.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
        }
    }

    static func binary(_ op: BinaryOp, _ a: Double, _ b: Double) -> Double {
        switch op {
        case .add: a + b
        case .sub: a - b
        case .mul: a * b
        case .div: a / b
        case .maximum: a.isNaN || b.isNaN ? .nan : Swift.max(a, b)
        case .minimum: a.isNaN || b.isNaN ? .nan : Swift.min(a, b)
        case .greater: a > b ? 1 : 0
        case .less: a < b ? 1 : 0
        case .equal: a == b ? 1 : 0
        }
    }

    func constant(_ c: Constant, _ node: Node) -> [Double] {
        let n = node.count
        switch c {
        case .host(let s, let offset):
            if node.dtype == .i32 { return (0..<n).map { Double(s.ints[offset + $0]) } }
            return (0..<n).map { Double(s.floats[offset + $0]) }
        case .bytes(let b):
            let r = b.raw
            switch node.dtype {
            case .f16:
                return (0..<n).map {
                    Double(
                        Scalars.fromHalf(
                            r.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian))
                }
            case .bf16:
                return (0..<n).map {
                    Double(
                        Scalars.fromBFloat(
                            r.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self).littleEndian))
                }
            case .i32:
                return (0..<n).map {
                    Double(
                        Int32(littleEndian: r.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))
                    )
                }
            default:
                return (0..<n).map {
                    Double(
                        Float(
                            bitPattern: r.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)
                                .littleEndian))
                }
            }
        }
    }

    /// Reads `x` through a strided map: out index → `offset + Σ idx·strides` in x.data.
    func strided(_ x: Array, shape: [Int], strides: [Int], offset: Int) -> Array {
        let n = shape.reduce(1, *)
        var out = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let idx = unravel(i, shape)
            var f = offset
            for a in 0..<shape.count { f += idx[a] * strides[a] }
            out[i] = x.data[f]
        }
        return Array(data: out, shape: shape)
    }

    func compute(_ node: Node, _ ins: [Array]) throws(ComputeError) -> Array {
        let shape = node.shape
        let n = node.count
        switch node.op {
        case .constant(let c):
            return Array(data: constant(c, node), shape: shape)
        case .unary(let op):
            return Array(data: ins[0].data.map { Self.unary(op, $0) }, shape: shape)
        case .cast:
            return Array(data: ins[0].data, shape: shape)
        case .binary(let op):
            var out = [Double](repeating: 0, count: n)
            for i in 0..<n {
                let idx = unravel(i, shape)
                out[i] = Self.binary(
                    op, ins[0].data[ravelBroadcast(idx, ins[0].shape)],
                    ins[1].data[ravelBroadcast(idx, ins[1].shape)])
            }
            return Array(data: out, shape: shape)
        case .select:
            var out = [Double](repeating: 0, count: n)
            for i in 0..<n {
                let idx = unravel(i, shape)
                let c = ins[0].data[ravelBroadcast(idx, ins[0].shape)]
                out[i] =
                    c != 0
                    ? ins[1].data[ravelBroadcast(idx, ins[1].shape)]
                    : ins[2].data[ravelBroadcast(idx, ins[2].shape)]
            }
            return Array(data: out, shape: shape)
        case .reshape:
            return Array(data: ins[0].data, shape: shape)
        case .permute(let perm):
            let s = Shape.strides(ins[0].shape)
            return strided(ins[0], shape: shape, strides: perm.map { s[$0] }, offset: 0)
        case .slice(let start, let step):
            let s = Shape.strides(ins[0].shape)
            var off = 0
            for a in 0..<s.count { off += start[a] * s[a] }
            return strided(ins[0], shape: shape, strides: zip(s, step).map { $0 * $1 }, offset: off)
        case .broadcast:
            return strided(
                ins[0], shape: shape,
                strides: Shape.broadcastStrides(
                    ins[0].shape, Shape.strides(ins[0].shape), to: shape), offset: 0)
        case .reduce(let op, let axes):
            return reduce(op, axes, ins[0], shape)
        case .argmax(let axis):
            let x = ins[0]
            let len = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
            var out = [Double](repeating: 0, count: n)
            for o in 0..<n {
                let outer = o / inner, r = o % inner
                var best = 0
                for i in 1..<len
                where x.data[(outer * len + i) * inner + r]
                    > x.data[(outer * len + best) * inner + r]
                {
                    best = i
                }
                out[o] = Double(best)
            }
            return Array(data: out, shape: shape)
        case .softmax(let axis):
            let x = ins[0]
            let len = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
            let outerN = len == 0 ? 0 : n / (len * inner)
            var out = x.data
            for o in 0..<outerN {
                for r in 0..<inner {
                    let at = { (i: Int) in (o * len + i) * inner + r }
                    var m = -Double.infinity
                    for i in 0..<len { m = Swift.max(m, x.data[at(i)]) }
                    var s = 0.0
                    for i in 0..<len { s += Glibc.exp(x.data[at(i)] - m) }
                    for i in 0..<len { out[at(i)] = Glibc.exp(x.data[at(i)] - m) / s }
                }
            }
            return Array(data: out, shape: shape)
        case .matmul:
            let a = ins[0], b = ins[1]
            let m = a.shape[a.shape.count - 2], k = a.shape[a.shape.count - 1]
            let nn = b.shape[b.shape.count - 1]
            let batch = Swift.Array(shape.dropLast(2))
            let nb = batch.reduce(1, *)
            var out = [Double](repeating: 0, count: n)
            for bi in 0..<nb {
                let idx = unravel(bi, batch)
                let ao = ravelBroadcast(idx, Swift.Array(a.shape.dropLast(2))) * m * k
                let bo = ravelBroadcast(idx, Swift.Array(b.shape.dropLast(2))) * k * nn
                for i in 0..<m {
                    for j in 0..<nn {
                        var s = 0.0
                        for p in 0..<k { s += a.data[ao + i * k + p] * b.data[bo + p * nn + j] }
                        out[(bi * m + i) * nn + j] = s
                    }
                }
            }
            return Array(data: out, shape: shape)
        case .concat(let axis):
            let inner = shape[(axis + 1)...].reduce(1, *)
            let outer = shape[..<axis].reduce(1, *)
            var out: [Double] = []
            out.reserveCapacity(n)
            for o in 0..<outer {
                for p in ins {
                    let len = p.shape[axis] * inner
                    out.append(contentsOf: p.data[(o * len)..<((o + 1) * len)])
                }
            }
            return Array(data: out, shape: shape)
        case .take(let axis):
            let x = ins[0], ids = ins[1]
            let len = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
            let outer = x.shape[..<axis].reduce(1, *)
            var out: [Double] = []
            out.reserveCapacity(n)
            for o in 0..<outer {
                for t in ids.data {
                    var i = Int(t)
                    if i < 0 { i += len }
                    guard i >= 0, i < len else {
                        throw ComputeError(
                            .index("index \(Int(t)) out of range for axis of \(len)"), op: "take")
                    }
                    let at = (o * len + i) * inner
                    out.append(contentsOf: x.data[at..<(at + inner)])
                }
            }
            return Array(data: out, shape: shape)
        case .rmsNorm(let eps):
            let x = ins[0], w = ins[1]
            let d = shape.last ?? 1
            var out = x.data
            for r in 0..<(d == 0 ? 0 : n / d) {
                var s = 0.0
                for i in 0..<d { s += x.data[r * d + i] * x.data[r * d + i] }
                let inv = 1 / (s / Double(d) + Double(eps)).squareRoot()
                for i in 0..<d { out[r * d + i] = x.data[r * d + i] * inv * w.data[i] }
            }
            return Array(data: out, shape: shape)
        case .layerNorm(let eps):
            let x = ins[0], w = ins[1], b = ins[2]
            let d = shape.last ?? 1
            var out = x.data
            for r in 0..<(d == 0 ? 0 : n / d) {
                var mean = 0.0
                for i in 0..<d { mean += x.data[r * d + i] }
                mean /= Double(d)
                var v = 0.0
                for i in 0..<d { v += (x.data[r * d + i] - mean) * (x.data[r * d + i] - mean) }
                let inv = 1 / (v / Double(d) + Double(eps)).squareRoot()
                for i in 0..<d {
                    out[r * d + i] = (x.data[r * d + i] - mean) * inv * w.data[i] + b.data[i]
                }
            }
            return Array(data: out, shape: shape)
        case .rope(let spec):
            let x = ins[0]
            let d = shape[shape.count - 1], t = shape[shape.count - 2]
            var out = x.data
            for r in 0..<(n / d) {
                let pos = Double(spec.offset + r % t)
                for i in 0..<(spec.dims / 2) {
                    let theta =
                        pos * Glibc.pow(Double(spec.base), -2 * Double(i) / Double(spec.dims))
                    let (c, s) = (Glibc.cos(theta), Glibc.sin(theta))
                    let (ia, ib) =
                        spec.layout == .interleaved ? (2 * i, 2 * i + 1) : (i, i + spec.dims / 2)
                    let a = x.data[r * d + ia], b = x.data[r * d + ib]
                    out[r * d + ia] = a * c - b * s
                    out[r * d + ib] = a * s + b * c
                }
            }
            return Array(data: out, shape: shape)
        case .attention(let spec):
            let q = ins[0], k = ins[1], v = ins[2]
            let (bN, hq, t, d) = (shape[0], shape[1], shape[2], shape[3])
            let (hkv, s) = (k.shape[1], k.shape[2])
            var out = [Double](repeating: 0, count: n)
            for b in 0..<bN {
                for h in 0..<hq {
                    let kh = h / (hq / hkv)
                    for i in 0..<t {
                        let qo = ((b * hq + h) * t + i) * d
                        let limit = spec.causal ? i + (s - t) : s - 1
                        var w = [Double](repeating: 0, count: s)
                        var m = -Double.infinity
                        for j in 0...Swift.max(limit, 0) where j < s {
                            let ko = ((b * hkv + kh) * s + j) * d
                            var dot = 0.0
                            for e in 0..<d { dot += q.data[qo + e] * k.data[ko + e] }
                            w[j] = dot * Double(spec.scale)
                            m = Swift.max(m, w[j])
                        }
                        var sum = 0.0
                        for j in 0...Swift.max(limit, 0) where j < s {
                            w[j] = Glibc.exp(w[j] - m)
                            sum += w[j]
                        }
                        for e in 0..<d {
                            var acc = 0.0
                            for j in 0...Swift.max(limit, 0) where j < s {
                                acc += w[j] * v.data[((b * hkv + kh) * s + j) * d + e]
                            }
                            out[qo + e] = acc / sum
                        }
                    }
                }
            }
            return Array(data: out, shape: shape)
        case .quantizedEmbedding(let w):
            return try embedding(w, ins[0], shape)
        case .quantizedMatmul(let w):
            let x = ins[0]
            let k = w.columns, nn = w.rows
            let m = k == 0 ? 0 : x.data.count / k
            var out = [Double](repeating: 0, count: n)
            var row = [Float](repeating: 0, count: k)
            for j in 0..<nn {
                row.withUnsafeMutableBufferPointer {
                    w.dequantizer.dequantize(row: j, into: $0.baseAddress.unsafelyUnwrapped)
                }
                for i in 0..<m {
                    var s = 0.0
                    for p in 0..<k { s += x.data[i * k + p] * Double(row[p]) }
                    out[i * nn + j] = s
                }
            }
            return Array(data: out, shape: shape)
        }
    }

    func embedding(_ w: QuantizedWeight, _ ids: Array, _ shape: [Int]) throws(ComputeError) -> Array
    {
        var out: [Double] = []
        var row = [Float](repeating: 0, count: w.columns)
        for t in ids.data {
            guard t >= 0, Int(t) < w.rows else {
                throw ComputeError(
                    .index("id \(Int(t)) out of range for \(w.rows) rows"),
                    op: "quantized_embedding")
            }
            row.withUnsafeMutableBufferPointer {
                w.dequantizer.dequantize(row: Int(t), into: $0.baseAddress.unsafelyUnwrapped)
            }
            out += row.map(Double.init)
        }
        return Array(data: out, shape: shape)
    }

    func reduce(_ op: ReduceOp, _ axes: [Int], _ x: Array, _ outShape: [Int]) -> Array {
        let kept = (0..<x.shape.count).filter { !axes.contains($0) }
        let perm = kept + axes
        let s = Shape.strides(x.shape)
        let pshape = perm.map { x.shape[$0] }
        let p = strided(x, shape: pshape, strides: perm.map { s[$0] }, offset: 0)
        let r = axes.map { x.shape[$0] }.reduce(1, *)
        let outs = kept.map { x.shape[$0] }.reduce(1, *)
        var out = [Double](repeating: 0, count: outs)
        for o in 0..<outs {
            let line = p.data[(o * r)..<((o + 1) * r)]
            switch op {
            case .sum: out[o] = line.reduce(0, +)
            case .mean: out[o] = line.reduce(0, +) / Double(r)
            case .max:
                out[o] = line.reduce(-Double.infinity) {
                    $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1)
                }
            case .logsumexp:
                let m = line.reduce(-Double.infinity, Swift.max)
                out[o] = m.isInfinite ? m : m + Glibc.log(line.reduce(0) { $0 + Glibc.exp($1 - m) })
            }
        }
        return Array(data: out, shape: outShape)
    }
}

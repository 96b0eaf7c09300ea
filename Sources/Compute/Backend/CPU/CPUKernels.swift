import CKernels
import COpenBLAS
import Dispatch
import Formats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Lines along one axis of a strided input, and where each lands in a contiguous output.
struct Lines {
    let dims: [Int]
    let inStrides: [Int]
    let outStrides: [Int]
    let length: Int
    let inStep: Int
    let outStep: Int
    var count: Int { dims.reduce(1, *) }

    init(_ v: Value, axis: Int, outShape: [Int], outAxis: Int?) {
        var d = v.shape, s = v.strides
        length = d.remove(at: axis)
        inStep = s.remove(at: axis)
        var os = Shape.strides(outShape)
        if let outAxis { outStep = os.remove(at: outAxis) } else { outStep = 0 }
        dims = d
        inStrides = s
        outStrides = os
    }

    @inline(__always)
    func offsets(_ line: Int) -> (Int, Int) {
        var i = 0, o = 0, l = line
        for a in stride(from: dims.count - 1, through: 0, by: -1) {
            let x = l % dims[a]
            l /= dims[a]
            i += x * inStrides[a]
            o += x * outStrides[a]
        }
        return (i, o)
    }
}

@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = SIMD8<Float>(repeating: 0)
    var i = 0
    while i + 8 <= n {
        acc +=
            UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var s = acc.sum()
    while i < n {
        s += a[i] * b[i]
        i += 1
    }
    return s
}

extension CPUExecutor {
    func finish(_ v: Value) -> Value {
        Scalars.round(v.floats, v.count, to: v.dtype)
        return v
    }

    mutating func argmax(_ x: Value, axis: Int, _ node: Node) -> Value {
        let out = allocate(node.shape, .i32)
        launched(reading: [x], writing: out.count)
        let lines = Lines(x, axis: axis, outShape: node.shape, outAxis: nil)
        let src = x.floats, dst = out.ints
        parallelRanges(lines.count, threads: threads) { r in
            for line in r {
                let (i0, o0) = lines.offsets(line)
                var best = 0
                var bv = src[i0]
                // numpy: the first maximum, or the first NaN.
                for j in 1..<lines.length {
                    if bv.isNaN { break }
                    let v = src[i0 + j * lines.inStep]
                    if v > bv || v.isNaN {
                        best = j
                        bv = v
                    }
                }
                dst[o0] = Int32(best)
            }
        }
        return out
    }

    mutating func softmax(_ x: Value, axis: Int, _ node: Node) -> Value {
        let out = allocate(node.shape, node.dtype)
        launched(reading: [x], writing: out.count)
        let lines = Lines(x, axis: axis, outShape: node.shape, outAxis: axis)
        let src = x.floats, dst = out.floats, len = lines.length
        parallelRanges(
            lines.count, threads: threads, minimumPerRange: Swift.max(1, 4096 / Swift.max(len, 1))
        ) { r in
            let row = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(len, 1))
            defer { row.deallocate() }
            for line in r {
                let (i0, o0) = lines.offsets(line)
                var m = -Float.infinity
                for j in 0..<len {
                    row[j] = src[i0 + j * lines.inStep]
                    m = Swift.max(m, row[j])
                }
                VectorMath.expShifted(row, row, len, m)
                var s: Float = 0
                for j in 0..<len { s += row[j] }
                let inv = 1 / s
                for j in 0..<len { dst[o0 + j * lines.outStep] = row[j] * inv }
            }
        }
        return finish(out)
    }

    mutating func concat(_ parts: [Value], axis: Int, _ node: Node) -> Value {
        let out = allocate(node.shape, node.dtype)
        launched(reading: parts, writing: out.count)
        let os = Shape.strides(node.shape)
        var at = 0
        for p in parts {
            let (dims, sets) = collapse(p.shape, [p.strides, os])
            let d = dims.isEmpty ? [1] : dims
            let ss = dims.isEmpty ? [0] : sets[0], ds = dims.isEmpty ? [0] : sets[1]
            let src = (p.storage.base + 4 * p.offset).assumingMemoryBound(to: UInt32.self)
            let dst = out.storage.base.assumingMemoryBound(to: UInt32.self) + at * os[axis]
            let inner = d[d.count - 1]
            let lines = d.dropLast().reduce(1, *)
            if p.count > 0 {
                parallelRanges(lines, threads: threads, minimumPerRange: Swift.max(1, 4096 / inner))
                { r in
                    for line in r {
                        var i = 0, o = 0, l = line
                        for a in stride(from: d.count - 2, through: 0, by: -1) {
                            let x = l % d[a]
                            l /= d[a]
                            i += x * ss[a]
                            o += x * ds[a]
                        }
                        for j in 0..<inner {
                            dst[o + j * ds[d.count - 1]] = src[i + j * ss[d.count - 1]]
                        }
                    }
                }
            }
            at += p.shape[axis]
        }
        return out
    }

    mutating func take(_ x0: Value, _ ids0: Value, axis: Int, _ node: Node) throws(ComputeError)
        -> Value
    {
        let x = materialize(x0), ids = materialize(ids0)
        let len = x.shape[axis]
        let count = ids.count
        var idx = [Int](repeating: 0, count: count)
        for i in 0..<count {
            var t = Int(ids.ints[i])
            if t < 0 { t += len }
            guard t >= 0, t < len else {
                throw ComputeError(
                    .index("index \(ids.ints[i]) out of range for axis of \(len)"), op: "take")
            }
            idx[i] = t
        }
        let out = allocate(node.shape, node.dtype)
        launched(reading: [ids], writing: out.count)
        stats.bytesRead += out.count * 4
        let inner = x.shape[(axis + 1)...].reduce(1, *)
        let outer = x.shape[..<axis].reduce(1, *)
        let src = x.storage.base.assumingMemoryBound(to: UInt32.self) + x.offset
        let dst = out.storage.base.assumingMemoryBound(to: UInt32.self)
        idx.withUnsafeBufferPointer { ip in
            parallelRanges(
                outer * count, threads: threads,
                minimumPerRange: Swift.max(1, 4096 / Swift.max(inner, 1))
            ) { r in
                for w in r {
                    let o = w / count, t = w % count
                    (dst + w * inner).update(from: src + (o * len + ip[t]) * inner, count: inner)
                }
            }
        }
        return out
    }

    mutating func norm(_ x0: Value, weight w0: Value, bias b0: Value?, eps: Float, _ node: Node)
        -> Value
    {
        let x = materialize(x0), w = materialize(w0)
        let b = b0.map { materialize($0) }
        let out = allocate(node.shape, node.dtype)
        launched(reading: [x, w] + (b.map { [$0] } ?? []), writing: out.count)
        let d = node.shape.last ?? 1
        let rows = d == 0 ? 0 : out.count / d
        let src = x.floats, wp = w.floats, bp = b?.floats, dst = out.floats
        parallelRanges(
            rows, threads: threads, minimumPerRange: Swift.max(1, 4096 / Swift.max(d, 1))
        ) { r in
            for row in r {
                let p = src + row * d, o = dst + row * d
                if let bp {
                    var mean = 0.0
                    for i in 0..<d { mean += Double(p[i]) }
                    mean /= Double(d)
                    var v = 0.0
                    for i in 0..<d { v += (Double(p[i]) - mean) * (Double(p[i]) - mean) }
                    let inv = Float(1 / (v / Double(d) + Double(eps)).squareRoot())
                    let mf = Float(mean)
                    for i in 0..<d { o[i] = (p[i] - mf) * inv * wp[i] + bp[i] }
                } else {
                    var s = 0.0
                    for i in 0..<d { s += Double(p[i]) * Double(p[i]) }
                    let inv = Float(1 / (s / Double(d) + Double(eps)).squareRoot())
                    for i in 0..<d { o[i] = p[i] * inv * wp[i] }
                }
            }
        }
        return finish(out)
    }

    mutating func rope(_ x0: Value, _ spec: RopeSpec, _ node: Node) -> Value {
        let x = materialize(x0)
        let out = allocate(node.shape, node.dtype)
        launched(reading: [x], writing: out.count)
        let r = node.shape.count
        let d = node.shape[r - 1], t = node.shape[r - 2], half = spec.dims / 2
        var table = [Float](repeating: 0, count: 2 * t * half)
        for p in 0..<t {
            for i in 0..<half {
                let theta =
                    Double(spec.offset + p)
                    * pow(Double(spec.base), -2 * Double(i) / Double(spec.dims))
                table[2 * (p * half + i)] = Float(cos(theta))
                table[2 * (p * half + i) + 1] = Float(sin(theta))
            }
        }
        let rows = d == 0 ? 0 : out.count / d
        let src = x.floats, dst = out.floats
        let interleaved = spec.layout == .interleaved
        table.withUnsafeBufferPointer { tb in
            parallelRanges(rows, threads: threads, minimumPerRange: 16) { rr in
                for row in rr {
                    let p = src + row * d, o = dst + row * d
                    o.update(from: p, count: d)
                    let cs = tb.baseAddress.unsafelyUnwrapped + 2 * (row % t) * half
                    for i in 0..<half {
                        let (ia, ib) = interleaved ? (2 * i, 2 * i + 1) : (i, i + half)
                        let (c, s) = (cs[2 * i], cs[2 * i + 1])
                        let a = p[ia], b = p[ib]
                        o[ia] = a * c - b * s
                        o[ib] = a * s + b * c
                    }
                }
            }
        }
        return finish(out)
    }

    mutating func attention(
        _ q0: Value, _ k0: Value, _ v0: Value, _ spec: AttentionSpec, _ node: Node
    ) -> Value {
        let q = materialize(q0), k = materialize(k0), v = materialize(v0)
        let out = allocate(node.shape, node.dtype)
        launched(reading: [q, k, v], writing: out.count)
        let (bN, hq, t, d) = (node.shape[0], node.shape[1], node.shape[2], node.shape[3])
        let (hkv, s) = (k.shape[1], k.shape[2])
        let group = hq / hkv
        let qp = q.floats, kp = k.floats, vp = v.floats, dst = out.floats
        parallelRanges(bN * hq * t, threads: threads) { r in
            let w = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(s, 1))
            defer { w.deallocate() }
            for row in r {
                let i = row % t, h = (row / t) % hq, b = row / (t * hq)
                let kvBase = (b * hkv + h / group) * s * d
                let qr = qp + row * d, o = dst + row * d
                let keys = spec.causal ? Swift.min(s, i + (s - t) + 1) : s
                // Scores and the weighted sum of values in CKernels' vector loops; the
                // exponentials here (the engine's one exp).
                let m = ck_attention_scores(qr, kp + kvBase, d, keys, spec.scale, w)
                VectorMath.expShifted(w, w, keys, m)
                var sum: Float = 0
                for j in 0..<keys { sum += w[j] }
                ck_attention_mix(w, vp + kvBase, d, keys, 1 / sum, o)
            }
        }
        return finish(out)
    }
}

import Formats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Elementwise math on tiles (`n` elements), shared by fused and unfused kernels.
enum TileMath {
    typealias V = SIMD16<Float>

    /// Binary ops that `pair` computes on vectors.
    static func pairs(_ op: BinaryOp) -> Bool {
        switch op {
        case .add, .sub, .mul, .div: true
        default: false
        }
    }

    /// Unary ops that `pair` computes on vectors (the same lane code as `unary`).
    static func pairs(_ op: UnaryOp) -> Bool {
        switch op {
        case .silu, .sigmoid, .exp, .neg, .square: true
        default: false
        }
    }

    /// `body` given `op` on vectors of `W` (16 lanes for elementwise loops, 8 for the sums,
    /// whose lane order `tileSum` fixes).
    @inline(__always)
    static func with<W: SIMD, R>(_ op: BinaryOp, on _: W.Type, _ body: ((W, W) -> W) -> R) -> R
    where W.Scalar: FloatingPoint {
        switch op {
        case .add: body { $0 + $1 }
        case .sub: body { $0 - $1 }
        case .mul: body { $0 * $1 }
        default: body { $0 / $1 }
        }
    }

    @inline(__always)
    static func with<R>(_ op: UnaryOp, _ body: ((V) -> V) -> R) -> R {
        switch op {
        case .silu: body { VectorMath.silu($0) }
        case .sigmoid: body { VectorMath.sigmoid($0) }
        case .exp: body { VectorMath.exp($0) }
        case .neg: body { -$0 }
        default: body { $0 * $0 }
        }
    }

    /// `d[i] = f(a[i], b[i], c[i])` on vectors; the tail padded into one vector, so every
    /// element goes through the same lane code.
    @inline(__always)
    static func lanes3(
        _ d: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ c: UnsafePointer<Float>, _ n: Int, _ f: (V, V, V) -> V
    ) {
        var i = 0
        while i + 16 <= n {
            let x = UnsafeRawPointer(a + i).loadUnaligned(as: V.self)
            let y = UnsafeRawPointer(b + i).loadUnaligned(as: V.self)
            let z = UnsafeRawPointer(c + i).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(d + i).storeBytes(of: f(x, y, z), as: V.self)
            i += 16
        }
        if i < n {
            var x = V(repeating: 0), y = x, z = x
            for k in 0..<(n - i) {
                x[k] = a[i + k]
                y[k] = b[i + k]
                z[k] = c[i + k]
            }
            let r = f(x, y, z)
            for k in 0..<(n - i) { d[i + k] = r[k] }
        }
    }

    /// `(a ⊕ b) ⊗ c` or `c ⊗ (a ⊕ b)` in one pass (the `binary2` instruction).
    static func binary2(
        _ op1: BinaryOp, _ op2: BinaryOp, tFirst: Bool, _ d: UnsafeMutablePointer<Float>,
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafePointer<Float>,
        _ n: Int
    ) {
        with(op1, on: V.self) { f in
            with(op2, on: V.self) { g in
                if tFirst {
                    lanes3(d, a, b, c, n) { x, y, z in g(f(x, y), z) }
                } else {
                    lanes3(d, a, b, c, n) { x, y, z in g(z, f(x, y)) }
                }
            }
        }
    }

    /// `f(a) ⊗ c` or `c ⊗ f(a)` in one pass (the `unaryBinary` instruction).
    static func unaryBinary(
        _ op1: UnaryOp, _ op2: BinaryOp, tFirst: Bool, _ d: UnsafeMutablePointer<Float>,
        _ a: UnsafePointer<Float>, _ c: UnsafePointer<Float>, _ n: Int
    ) {
        with(op1) { f in
            with(op2, on: V.self) { g in
                if tFirst {
                    lanes3(d, a, c, c, n) { x, _, z in g(f(x), z) }
                } else {
                    lanes3(d, a, c, c, n) { x, _, z in g(z, f(x)) }
                }
            }
        }
    }

    /// `tileSum` of `a[i] ⊕ b[i]` without storing the products: the same 8 interleaved
    /// lanes, the same order, the same sum.
    @inline(__always)
    static func sum(
        _ op: BinaryOp, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int
    ) -> Float {
        with(op, on: SIMD8<Float>.self) { f in
            var acc = SIMD8<Float>(repeating: 0)
            var i = 0
            while i + 8 <= n {
                acc += f(
                    UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self),
                    UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self))
                i += 8
            }
            var s = acc.sum()
            while i < n {
                let x = f(SIMD8(repeating: a[i]), SIMD8(repeating: b[i]))
                s += x[0]
                i += 1
            }
            return s
        }
    }

    typealias Tile = UnsafeMutablePointer<Float>

    /// `sum` of four tiles at once (four independent accumulators, each in `sum`'s order).
    @inline(__always)
    static func sum4(
        _ op: BinaryOp,
        _ a: (Tile, Tile, Tile, Tile), _ b: (Tile, Tile, Tile, Tile),
        _ n: Int
    ) -> SIMD4<Float> {
        with(op, on: SIMD8<Float>.self) { f in
            typealias W = SIMD8<Float>
            var acc0 = W(repeating: 0), acc1 = acc0, acc2 = acc0, acc3 = acc0
            var i = 0
            while i + 8 <= n {
                acc0 += f(
                    UnsafeRawPointer(a.0 + i).loadUnaligned(as: W.self),
                    UnsafeRawPointer(b.0 + i).loadUnaligned(as: W.self))
                acc1 += f(
                    UnsafeRawPointer(a.1 + i).loadUnaligned(as: W.self),
                    UnsafeRawPointer(b.1 + i).loadUnaligned(as: W.self))
                acc2 += f(
                    UnsafeRawPointer(a.2 + i).loadUnaligned(as: W.self),
                    UnsafeRawPointer(b.2 + i).loadUnaligned(as: W.self))
                acc3 += f(
                    UnsafeRawPointer(a.3 + i).loadUnaligned(as: W.self),
                    UnsafeRawPointer(b.3 + i).loadUnaligned(as: W.self))
                i += 8
            }
            var s = SIMD4<Float>(acc0.sum(), acc1.sum(), acc2.sum(), acc3.sum())
            while i < n {
                s[0] += f(W(repeating: a.0[i]), W(repeating: b.0[i]))[0]
                s[1] += f(W(repeating: a.1[i]), W(repeating: b.1[i]))[0]
                s[2] += f(W(repeating: a.2[i]), W(repeating: b.2[i]))[0]
                s[3] += f(W(repeating: a.3[i]), W(repeating: b.3[i]))[0]
                i += 1
            }
            return s
        }
    }

    /// `d[i] = f(a[i])`, 16 lanes at a time, the tail by `scalar` (the same IEEE operation).
    /// Explicit vector loads and stores: `d` may be `a` (a kernel writing over its donor),
    /// where a plain loop's runtime alias check falls back to scalar code.
    @inline(__always)
    static func lanes(
        _ d: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ n: Int,
        _ f: (V) -> V, _ scalar: (Float) -> Float
    ) {
        var i = 0
        while i + 16 <= n {
            let v = UnsafeRawPointer(a + i).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(d + i).storeBytes(of: f(v), as: V.self)
            i += 16
        }
        while i < n {
            d[i] = scalar(a[i])
            i += 1
        }
    }

    /// `d[i] = f(a[i], b[i])`, as the one-input `lanes`.
    @inline(__always)
    static func lanes(
        _ d: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ n: Int, _ f: (V, V) -> V, _ scalar: (Float, Float) -> Float
    ) {
        var i = 0
        while i + 16 <= n {
            let x = UnsafeRawPointer(a + i).loadUnaligned(as: V.self)
            let y = UnsafeRawPointer(b + i).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(d + i).storeBytes(of: f(x, y), as: V.self)
            i += 16
        }
        while i < n {
            d[i] = scalar(a[i], b[i])
            i += 1
        }
    }

    @inline(__always)
    static func unary(
        _ op: UnaryOp, _ d: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ n: Int
    ) {
        switch op {
        case .neg: lanes(d, a, n, { -$0 }, { -$0 })
        case .exp: VectorMath.exp(d, a, n)
        case .log: for i in 0..<n { d[i] = logf(a[i]) }
        case .sqrt: lanes(d, a, n, { $0.squareRoot() }, { $0.squareRoot() })
        case .rsqrt: lanes(d, a, n, { 1 / $0.squareRoot() }, { 1 / $0.squareRoot() })
        case .tanh: for i in 0..<n { d[i] = tanhf(a[i]) }
        case .erf: for i in 0..<n { d[i] = erff(a[i]) }
        case .abs:
            // Clears the sign bit (an integer mask: no float compare).
            lanes(
                d, a, n,
                {
                    unsafeBitCast(
                        unsafeBitCast($0, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: V.self)
                },
                { Swift.abs($0) })
        case .square: lanes(d, a, n, { $0 * $0 }, { $0 * $0 })
        case .silu: VectorMath.silu(d, a, n)
        case .sigmoid: VectorMath.sigmoid(d, a, n)
        case .geluErf:
            for i in 0..<n { d[i] = 0.5 * a[i] * (1 + erff(a[i] * 0.70710678118654752)) }
        case .geluTanh:
            for i in 0..<n {
                let x = a[i]
                d[i] = 0.5 * x * (1 + tanhf(0.79788456080286536 * (x + 0.044715 * x * x * x)))
            }
        }
    }

    @inline(__always)
    static func binary(
        _ op: BinaryOp, _ d: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>,
        _ b: UnsafePointer<Float>, _ n: Int
    ) {
        switch op {
        case .add: lanes(d, a, b, n, { $0 + $1 }, { $0 + $1 })
        case .sub: lanes(d, a, b, n, { $0 - $1 }, { $0 - $1 })
        case .mul: lanes(d, a, b, n, { $0 * $1 }, { $0 * $1 })
        case .div: lanes(d, a, b, n, { $0 / $1 }, { $0 / $1 })
        case .maximum:
            for i in 0..<n { d[i] = a[i].isNaN || b[i].isNaN ? .nan : Swift.max(a[i], b[i]) }
        case .minimum:
            for i in 0..<n { d[i] = a[i].isNaN || b[i].isNaN ? .nan : Swift.min(a[i], b[i]) }
        case .greater: for i in 0..<n { d[i] = a[i] > b[i] ? 1 : 0 }
        case .less: for i in 0..<n { d[i] = a[i] < b[i] ? 1 : 0 }
        case .equal: for i in 0..<n { d[i] = a[i] == b[i] ? 1 : 0 }
        }
    }
}

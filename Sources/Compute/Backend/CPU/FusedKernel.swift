import Dispatch
import Formats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An elementwise chain compiled to register instructions that run tile by tile: the leaves
/// are read once, intermediates live in a few KB of scratch, the result is written once.
struct FusedProgram {
    enum Instr {
        case unary(UnaryOp, dst: Int, a: Int)
        case binary(BinaryOp, dst: Int, a: Int, b: Int)
        case select(dst: Int, c: Int, a: Int, b: Int)
        case round(DType, dst: Int, a: Int)
        case trunc(dst: Int, a: Int)

        /// The register written.
        var destination: Int {
            switch self {
            case .unary(_, let d, _), .binary(_, let d, _, _), .select(let d, _, _, _),
                .round(_, let d, _), .trunc(let d, _):
                d
            }
        }
    }

    private(set) var leaves: [Node] = []
    private var leafRegister: [ObjectIdentifier: Int] = [:]
    private(set) var instrs: [Instr] = []
    private(set) var registers = 0
    private(set) var result = 0
    private let inlined: Set<ObjectIdentifier>

    /// The program of an elementwise `root`, or of the input of a reduction `root`.
    init(root: Node, inlined: Set<ObjectIdentifier>) {
        self.inlined = inlined
        if case .reduce = root.op {
            result = compile(root.inputs[0], inline: false)
        } else {
            result = compile(root, inline: true)
        }
    }

    private mutating func newRegister() -> Int {
        registers += 1
        return registers - 1
    }

    private mutating func rounded(_ r: Int, _ dtype: DType) -> Int {
        if dtype == .f16 || dtype == .bf16 { instrs.append(.round(dtype, dst: r, a: r)) }
        return r
    }

    private mutating func compile(_ n: Node, inline: Bool) -> Int {
        if inline || inlined.contains(n.id) {
            switch n.op {
            case .unary(let op):
                let a = compile(n.inputs[0], inline: false)
                let d = newRegister()
                instrs.append(.unary(op, dst: d, a: a))
                return rounded(d, n.dtype)
            case .binary(let op):
                let a = compile(n.inputs[0], inline: false)
                let b = compile(n.inputs[1], inline: false)
                let d = newRegister()
                instrs.append(.binary(op, dst: d, a: a, b: b))
                return rounded(d, n.dtype)
            case .select:
                let c = compile(n.inputs[0], inline: false)
                let a = compile(n.inputs[1], inline: false)
                let b = compile(n.inputs[2], inline: false)
                let d = newRegister()
                instrs.append(.select(dst: d, c: c, a: a, b: b))
                return rounded(d, n.dtype)
            case .cast:
                let a = compile(n.inputs[0], inline: false)
                switch n.dtype {
                case .i32:
                    let d = newRegister()
                    instrs.append(.trunc(dst: d, a: a))
                    return d
                case .f16, .bf16:
                    let d = newRegister()
                    instrs.append(.round(n.dtype, dst: d, a: a))
                    return d
                default: return a
                }
            default: break
            }
        }
        if let r = leafRegister[n.id] { return r }
        let r = newRegister()
        leafRegister[n.id] = r
        leaves.append(n)
        return r
    }

    /// Leaf nodes with their registers, in leaf order.
    var leafRegisters: [Int] { leaves.map { leafRegister[$0.id].unsafelyUnwrapped } }
}

/// Elementwise math on tiles (`n` elements), shared by fused and unfused kernels.
enum TileMath {
    typealias V = SIMD16<Float>

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
                { unsafeBitCast(unsafeBitCast($0, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: V.self) },
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

/// Drops size-1 dims and merges dims that every stride set walks contiguously.
func collapse(_ dims: [Int], _ sets: [[Int]]) -> ([Int], [[Int]]) {
    var d: [Int] = []
    var s = sets.map { _ in [Int]() }
    for i in dims.indices where dims[i] != 1 {
        if let last = d.last,
            sets.indices.allSatisfy({ s[$0][s[$0].count - 1] == sets[$0][i] * dims[i] })
        {
            d[d.count - 1] = last * dims[i]
            for k in sets.indices { s[k][s[k].count - 1] = sets[k][i] }
        } else {
            d.append(dims[i])
            for k in sets.indices { s[k].append(sets[k][i]) }
        }
    }
    return (d, s)
}

/// Runs `body` over `0..<n` split into contiguous ranges on at most `threads` threads. Every
/// index is handled by exactly one call, so results never depend on the thread count.
func parallelRanges(_ n: Int, threads: Int, minimumPerRange: Int = 1, _ body: (Range<Int>) -> Void)
{
    guard n > 0 else { return }
    let parts = Swift.min(
        threads <= 1 ? 1 : threads * 4, Swift.max(1, n / Swift.max(minimumPerRange, 1)))
    if parts <= 1 {
        body(0..<n)
        return
    }
    // Unchecked: callers write disjoint output ranges and only read shared inputs.
    withoutActuallyEscaping(body) { escapable in
        let box = UncheckedSendable(value: escapable)
        // At most `threads` workers run; worker w takes ranges w, w + workers, .... Which
        // range holds an index changes nothing: kernels compute each output element alone.
        let workers = Swift.min(threads, parts)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var p = w
            while p < parts {
                let lo = n * p / parts
                let hi = n * (p + 1) / parts
                if lo < hi { box.value(lo..<hi) }
                p += workers
            }
        }
    }
}

/// Carries a value into worker closures whose safety the caller argues for.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
}

/// A fused program bound to its leaf values over an iteration space of lines.
struct BoundProgram {
    static let tile = 1024

    let program: FusedProgram
    /// Collapsed iteration dims; the last one is the line (tiled) dim.
    let dims: [Int]
    /// Per leaf: strides over `dims`.
    let strides: [[Int]]
    let bases: [UnsafeMutableRawPointer]
    let isInt: [Bool]
    let registersOfLeaves: [Int]

    var inner: Int { dims.last ?? 1 }
    var lines: Int { dims.dropLast().reduce(1, *) }

    init(program: FusedProgram, leaves: [Value], dims: [Int], strides: [[Int]]) {
        self.program = program
        self.dims = dims.isEmpty ? [1] : dims
        self.strides = dims.isEmpty ? strides.map { _ in [0] } : strides
        bases = leaves.map { $0.storage.base + 4 * $0.offset }
        isInt = leaves.map { $0.dtype == .i32 }
        registersOfLeaves = program.leafRegisters
    }

    /// Evaluates elements `c0 ..< c0 + n` of `line` and returns the result's pointer (valid
    /// until the next call with the same scratch). With `out`, the last instruction writes
    /// there directly (no copy pass); the result is `out` unless the program has no
    /// instruction (it is a leaf, returned as read).
    func run(
        line: Int, c0: Int, n: Int, scratch: UnsafeMutablePointer<Float>,
        pointers: inout [UnsafeMutablePointer<Float>], out: UnsafeMutablePointer<Float>? = nil
    ) -> UnsafeMutablePointer<Float> {
        let rank = dims.count
        for (k, reg) in registersOfLeaves.enumerated() {
            let st = strides[k]
            var off = 0
            var l = line
            for a in stride(from: rank - 2, through: 0, by: -1) {
                off += (l % dims[a]) * st[a]
                l /= dims[a]
            }
            let s = st[rank - 1]
            off += c0 * s
            let reg0 = scratch + reg * Self.tile
            if isInt[k] {
                let p = bases[k].assumingMemoryBound(to: Int32.self) + off
                for i in 0..<n { reg0[i] = Float(p[i * s]) }
                pointers[reg] = reg0
            } else {
                let p = bases[k].assumingMemoryBound(to: Float.self) + off
                if s == 1 {
                    pointers[reg] = p  // read in place: no copy of contiguous leaves
                } else if s == 0 {
                    reg0.update(repeating: p[0], count: n)
                    pointers[reg] = reg0
                } else {
                    for i in 0..<n { reg0[i] = p[i * s] }
                    pointers[reg] = reg0
                }
            }
        }
        let instrs = program.instrs, last = instrs.count - 1
        // Elementwise instructions read and write position i only, so the last may write
        // over a donor leaf it reads (the in-place reuse of `map`).
        let direct = out != nil && last >= 0 && instrs[last].destination == program.result
        for (at, ins) in instrs.enumerated() {
            let target = direct && at == last ? out : nil
            switch ins {
            case .unary(let op, let d, let a):
                let dp = target ?? scratch + d * Self.tile
                TileMath.unary(op, dp, pointers[a], n)
                pointers[d] = dp
            case .binary(let op, let d, let a, let b):
                let dp = target ?? scratch + d * Self.tile
                TileMath.binary(op, dp, pointers[a], pointers[b], n)
                pointers[d] = dp
            case .select(let d, let c, let a, let b):
                let dp = target ?? scratch + d * Self.tile
                let (cp, ap, bp) = (pointers[c], pointers[a], pointers[b])
                for i in 0..<n { dp[i] = cp[i] != 0 ? ap[i] : bp[i] }
                pointers[d] = dp
            case .round(let dtype, let d, let a):
                let dp = target ?? scratch + d * Self.tile
                let ap = pointers[a]
                if dtype == .f16 {
                    for i in 0..<n { dp[i] = Scalars.roundHalf(ap[i]) }
                } else {
                    for i in 0..<n { dp[i] = Scalars.roundBFloat(ap[i]) }
                }
                pointers[d] = dp
            case .trunc(let d, let a):
                let dp = target ?? scratch + d * Self.tile
                let ap = pointers[a]
                for i in 0..<n { dp[i] = Float(Scalars.toInt32(ap[i])) }
                pointers[d] = dp
            }
        }
        return pointers[program.result]
    }

    /// Computes elements `c0 ..< c0 + n` of `line` into element `at` of `dst` (F32, or I32
    /// truncated when `isInt`): the body of an elementwise kernel, whatever runs its lines.
    @inline(__always)
    func store(
        line: Int, c0: Int, n: Int, at: Int, into dst: UnsafeMutableRawPointer, isInt: Bool,
        scratch: UnsafeMutablePointer<Float>, pointers: inout [UnsafeMutablePointer<Float>]
    ) {
        let direct = isInt ? nil : dst.assumingMemoryBound(to: Float.self) + at
        let res = run(
            line: line, c0: c0, n: n, scratch: scratch, pointers: &pointers, out: direct)
        if isInt {
            let o = dst.assumingMemoryBound(to: Int32.self) + at
            for i in 0..<n { o[i] = Scalars.toInt32(res[i]) }
        } else {
            let o = dst.assumingMemoryBound(to: Float.self) + at
            // Written in place by the last instruction, or a bare leaf to copy (unless it is
            // the donor itself).
            if o != res { o.update(from: res, count: n) }
        }
    }

    /// Reduces `lines` (each of `inner` elements, tile by tile in order) to one value: the
    /// body of a reduction kernel for one output, whatever runs its outputs. `total` is the
    /// number of elements reduced (the divisor of a mean); `dtype` the output's.
    @inline(__always)
    func reduce(
        _ op: ReduceOp, lines: Range<Int>, total: Double, dtype: DType,
        scratch: UnsafeMutablePointer<Float>, pointers: inout [UnsafeMutablePointer<Float>]
    ) -> Float {
        let inner = self.inner, tile = Self.tile
        var sum = 0.0
        var m = -Float.infinity
        var nan = false
        for line in lines {
            var c0 = 0
            while c0 < inner {
                let n = Swift.min(tile, inner - c0)
                let p = run(line: line, c0: c0, n: n, scratch: scratch, pointers: &pointers)
                switch op {
                case .sum, .mean:
                    sum += Double(CPUExecutor.tileSum(p, n))
                case .max:
                    for i in 0..<n {
                        if p[i].isNaN { nan = true }
                        m = Swift.max(m, p[i])
                    }
                case .logsumexp:
                    var cm = -Float.infinity
                    for i in 0..<n { cm = Swift.max(cm, p[i]) }
                    if cm > m {
                        if m > -.infinity { sum *= Double(expf(m - cm)) }
                        m = cm
                    }
                    if m > -.infinity && m < .infinity {
                        var s: Float = 0
                        for i in 0..<n { s += expf(p[i] - m) }
                        sum += Double(s)
                    }
                }
                c0 += n
            }
        }
        var v: Float
        switch op {
        case .sum: v = Float(sum)
        case .mean: v = Float(sum / total)
        case .max: v = nan ? .nan : m
        case .logsumexp: v = m.isInfinite ? m : m + Float(naturalLog(sum))
        }
        if dtype == .f16 {
            v = Scalars.roundHalf(v)
        } else if dtype == .bf16 {
            v = Scalars.roundBFloat(v)
        }
        return v
    }

    /// Per-thread scratch: one tile per register.
    func withScratch(
        _ body: (UnsafeMutablePointer<Float>, inout [UnsafeMutablePointer<Float>]) -> Void
    ) {
        Self.withScratch(registers: program.registers, body)
    }

    /// Scratch for programs of at most `registers` registers.
    static func withScratch(
        registers: Int,
        _ body: (UnsafeMutablePointer<Float>, inout [UnsafeMutablePointer<Float>]) -> Void
    ) {
        let regs = Swift.max(registers, 1)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: regs * Self.tile)
        defer { scratch.deallocate() }
        var pointers = [UnsafeMutablePointer<Float>](repeating: scratch, count: regs)
        body(scratch, &pointers)
    }
}

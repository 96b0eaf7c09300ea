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
        /// `t = a ⊕ b`, then `t ⊗ c` (`tFirst`) or `c ⊗ t`: two binary instructions in one
        /// pass, `t` kept in a register (it had no other reader).
        case binary2(BinaryOp, BinaryOp, dst: Int, a: Int, b: Int, c: Int, tFirst: Bool)
        /// `t = f(a)`, then `t ⊗ c` or `c ⊗ t` (a SiLU gate), as `binary2`.
        case unaryBinary(UnaryOp, BinaryOp, dst: Int, a: Int, c: Int, tFirst: Bool)

        /// The register written.
        var destination: Int {
            switch self {
            case .unary(_, let d, _), .binary(_, let d, _, _), .select(let d, _, _, _),
                .round(_, let d, _), .trunc(let d, _), .binary2(_, _, let d, _, _, _, _),
                .unaryBinary(_, _, let d, _, _, _):
                d
            }
        }

        /// The registers read.
        var sources: [Int] {
            switch self {
            case .unary(_, _, let a), .round(_, _, let a), .trunc(_, let a): [a]
            case .binary(_, _, let a, let b): [a, b]
            case .select(_, let c, let a, let b): [c, a, b]
            case .binary2(_, _, _, let a, let b, let c, _): [a, b, c]
            case .unaryBinary(_, _, _, let a, let c, _): [a, c]
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
        instrs = Self.paired(instrs, registers: registers, result: result)
    }

    /// Fuses an instruction with the next when the next is its only reader and both are
    /// among the ops `TileMath.pair` computes in registers: one pass over the tile instead
    /// of two, with each element computed by the same operations in the same order.
    static func paired(_ instrs: [Instr], registers: Int, result: Int) -> [Instr] {
        var uses = [Int](repeating: 0, count: registers)
        for ins in instrs { for r in ins.sources { uses[r] += 1 } }
        uses[result] += 1
        var out: [Instr] = []
        var i = 0
        while i < instrs.count {
            if i + 1 < instrs.count, case .binary(let op2, let d, let x, let y) = instrs[i + 1],
                TileMath.pairs(op2), x != y
            {
                let t = instrs[i].destination
                if uses[t] == 1 && (x == t || y == t) {
                    let c = x == t ? y : x
                    switch instrs[i] {
                    case .binary(let op1, _, let a, let b) where TileMath.pairs(op1):
                        out.append(.binary2(op1, op2, dst: d, a: a, b: b, c: c, tFirst: x == t))
                        i += 2
                        continue
                    case .unary(let f, _, let a) where TileMath.pairs(f):
                        out.append(.unaryBinary(f, op2, dst: d, a: a, c: c, tFirst: x == t))
                        i += 2
                        continue
                    default: break
                    }
                }
            }
            out.append(instrs[i])
            i += 1
        }
        return out
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

    @inline(__always)
    static func with<R>(_ op: BinaryOp, _ body: ((V, V) -> V) -> R) -> R {
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
        with(op1) { f in
            with(op2) { g in
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
            with(op2) { g in
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
        with8(op) { f in
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
        with8(op) { f in
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

    @inline(__always)
    static func with8<R>(
        _ op: BinaryOp, _ body: ((SIMD8<Float>, SIMD8<Float>) -> SIMD8<Float>) -> R
    ) -> R {
        switch op {
        case .add: body { $0 + $1 }
        case .sub: body { $0 - $1 }
        case .mul: body { $0 * $1 }
        default: body { $0 / $1 }
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

    /// Owns the tables below, which the per-tile loop reads through plain pointers: copying
    /// or running a bound program costs no reference counting per tile.
    private let owner: Tables
    let registers: Int
    let result: Int
    let rank: Int
    /// Collapsed iteration dims; the last one is the line (tiled) dim.
    let dims: UnsafeBufferPointer<Int>
    /// Per leaf: `rank` strides over `dims`, leaf after leaf.
    let strides: UnsafeBufferPointer<Int>
    let bases: UnsafeBufferPointer<UnsafeMutableRawPointer>
    let isInt: UnsafeBufferPointer<Bool>
    let registersOfLeaves: UnsafeBufferPointer<Int>
    let instrs: UnsafeBufferPointer<FusedProgram.Instr>

    var inner: Int { dims[rank - 1] }
    var lines: Int { dims.dropLast().reduce(1, *) }

    init(program: FusedProgram, leaves: [Value], dims: [Int], strides: [[Int]]) {
        let owner = Tables()
        self.owner = owner
        registers = program.registers
        result = program.result
        let d = dims.isEmpty ? [1] : dims
        rank = d.count
        self.dims = owner.copy(d)
        let s = dims.isEmpty ? strides.map { _ in [0] } : strides
        self.strides = owner.copy(s.flatMap { $0 })
        bases = owner.copy(leaves.map { $0.storage.base + 4 * $0.offset })
        isInt = owner.copy(leaves.map { $0.dtype == .i32 })
        registersOfLeaves = owner.copy(program.leafRegisters)
        instrs = owner.copy(program.instrs)
    }

    /// Heap copies of trivial arrays, freed with their owner.
    final class Tables {
        private var blocks: [UnsafeMutableRawPointer] = []

        func copy<T>(_ a: [T]) -> UnsafeBufferPointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: Swift.max(a.count, 1))
            p.initialize(from: a, count: a.count)
            blocks.append(UnsafeMutableRawPointer(p))
            return UnsafeBufferPointer(start: p, count: a.count)
        }

        // The element types are trivial (integers, pointers, payloads of them).
        deinit { for b in blocks { b.deallocate() } }
    }

    /// Evaluates elements `c0 ..< c0 + n` of `line` and returns the result's pointer (valid
    /// until the next call with the same scratch; with `dropLast`, the last instruction's
    /// operands are left in `pointers` and the result is not computed). With `out`, the last instruction writes
    /// there directly (no copy pass); the result is `out` unless the program has no
    /// instruction (it is a leaf, returned as read).
    func run(
        line: Int, c0: Int, n: Int, scratch: UnsafeMutablePointer<Float>,
        pointers: inout [UnsafeMutablePointer<Float>], out: UnsafeMutablePointer<Float>? = nil,
        dropLast: Bool = false
    ) -> UnsafeMutablePointer<Float> {
        let rank = self.rank, dims = self.dims
        for (k, reg) in registersOfLeaves.enumerated() {
            let st = strides.baseAddress.unsafelyUnwrapped + k * rank
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
        // `dropLast`: the caller computes the last instruction itself (from `pointers`).
        let instrs = dropLast ? instrs.dropLast() : instrs[...]
        let last = instrs.count - 1
        // Elementwise instructions read and write position i only, so the last may write
        // over a donor leaf it reads (the in-place reuse of `map`).
        let direct = out != nil && last >= 0 && instrs[last].destination == result
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
            case .binary2(let op1, let op2, let d, let a, let b, let c, let tFirst):
                let dp = target ?? scratch + d * Self.tile
                TileMath.binary2(
                    op1, op2, tFirst: tFirst, dp, pointers[a], pointers[b], pointers[c], n)
                pointers[d] = dp
            case .unaryBinary(let op1, let op2, let d, let a, let c, let tFirst):
                let dp = target ?? scratch + d * Self.tile
                TileMath.unaryBinary(op1, op2, tFirst: tFirst, dp, pointers[a], pointers[c], n)
                pointers[d] = dp
            }
        }
        return pointers[result]
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
        // A sum whose input ends in a binary op (x · x) sums it as it is computed.
        let summed = op == .sum || op == .mean ? summedBinary : nil
        for line in lines {
            var c0 = 0
            while c0 < inner {
                let n = Swift.min(tile, inner - c0)
                if let (bop, a, b) = summed {
                    _ = run(
                        line: line, c0: c0, n: n, scratch: scratch, pointers: &pointers,
                        dropLast: true)
                    sum += Double(TileMath.sum(bop, pointers[a], pointers[b], n))
                    c0 += n
                    continue
                }
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

    /// The op and operand registers when the program ends in a binary op that a sum can
    /// fold as it goes (`TileMath.sum`).
    var summedBinary: (BinaryOp, Int, Int)? {
        if case .binary(let bop, let d, let a, let b) = instrs.last, d == result,
            TileMath.pairs(bop)
        {
            return (bop, a, b)
        }
        return nil
    }

    /// `reduce` (a sum or mean over `summedBinary`) of lines `line ..< line + 4`, the four
    /// interleaved: each line is summed in its own order, exactly as `reduce` sums it, but
    /// four independent chains of additions keep the adder busy where one waits on the
    /// latency of the last.
    func sum4(
        _ op: ReduceOp, line: Int, total: Double, dtype: DType
    ) -> SIMD4<Float> {
        guard let (bop, ra, rb) = summedBinary else { preconditionFailure("not a summed program") }
        var out = SIMD4<Float>()
        Self.withScratch(registers: 4 * registers) { scratch, pointers in
            var p1 = pointers, p2 = pointers, p3 = pointers
            let step = registers * Self.tile
            var sums = SIMD4<Double>()
            var c0 = 0
            while c0 < inner {
                let n = Swift.min(Self.tile, inner - c0)
                _ = run(
                    line: line, c0: c0, n: n, scratch: scratch, pointers: &pointers,
                    dropLast: true)
                _ = run(
                    line: line + 1, c0: c0, n: n, scratch: scratch + step, pointers: &p1,
                    dropLast: true)
                _ = run(
                    line: line + 2, c0: c0, n: n, scratch: scratch + 2 * step, pointers: &p2,
                    dropLast: true)
                _ = run(
                    line: line + 3, c0: c0, n: n, scratch: scratch + 3 * step, pointers: &p3,
                    dropLast: true)
                let t = TileMath.sum4(
                    bop, (pointers[ra], p1[ra], p2[ra], p3[ra]),
                    (pointers[rb], p1[rb], p2[rb], p3[rb]), n)
                for j in 0..<4 { sums[j] += Double(t[j]) }
                c0 += n
            }
            for j in 0..<4 {
                var v = op == .sum ? Float(sums[j]) : Float(sums[j] / total)
                if dtype == .f16 {
                    v = Scalars.roundHalf(v)
                } else if dtype == .bf16 {
                    v = Scalars.roundBFloat(v)
                }
                out[j] = v
            }
        }
        return out
    }

    /// Per-thread scratch: one tile per register.
    func withScratch(
        _ body: (UnsafeMutablePointer<Float>, inout [UnsafeMutablePointer<Float>]) -> Void
    ) {
        Self.withScratch(registers: registers, body)
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

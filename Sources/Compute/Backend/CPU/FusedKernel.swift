import CKernels
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
    // On CKernels' pool, whose workers stay awake between the kernels of a step (a dispatch
    // queue wakes a sleeping thread for each one). Unchecked: callers write disjoint output
    // ranges and only read shared inputs; the pool returns after the last range is done.
    withoutActuallyEscaping(body) { escapable in
        var job = RangeJob(body: escapable, n: n, parts: parts)
        withUnsafeMutablePointer(to: &job) { p in
            ck_pool_run(parts, Int32(Swift.min(threads, parts)), { context, part in
                guard let job = context?.assumingMemoryBound(to: RangeJob.self).pointee else { return }
                let lo = job.n * part / job.parts
                let hi = job.n * (part + 1) / job.parts
                if lo < hi { job.body(lo..<hi) }
            }, p)
        }
    }
}

/// One `parallelRanges` call, handed to the pool's C callback through its context pointer.
private struct RangeJob {
    let body: (Range<Int>) -> Void
    let n: Int
    let parts: Int
}

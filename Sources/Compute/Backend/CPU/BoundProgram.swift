import Formats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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

import Dispatch
import Formats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The fast backend: runs a `Schedule` kernel by kernel (a `RowGroup` block of rows by block
/// of rows), views as strides, elementwise chains fused, every stored intermediate freed
/// after the last kernel that reads it.
struct CPUExecutor {
    let options: EvalOptions
    let tracker = MemoryTracker()
    var stats = EvalStats()
    let threads: Int
    /// The last input packed for a BF16 product (`EvalOptions.bf16Products`).
    var bf16Packed: BF16PackedInput?

    init(options: EvalOptions) {
        self.options = options
        threads = Swift.max(1, options.threads ?? sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }

    mutating func run(_ outputs: [Node]) throws(ComputeError) -> Evaluation {
        let plan = Schedule(outputs, fusion: options.fusion)
        var remaining = plan.reads
        let outputIDs = Set(outputs.map(\.id))
        var values: [ObjectIdentifier: Value] = [:]
        // A row group runs where its last kernel stands: what lies between its kernels
        // (constants, views of non-members) has run by then.
        var grouped = Set<ObjectIdentifier>()
        var groupEndingAt: [ObjectIdentifier: RowGroup] = [:]
        for g in plan.groups {
            for n in g.kernels { grouped.insert(n.id) }
            if let last = g.kernels.last { groupEndingAt[last.id] = g }
        }
        func release(_ leaves: [Node]) {
            for l in leaves {
                remaining[l.id, default: 1] -= 1
                if remaining[l.id] == 0 && !outputIDs.contains(l.id) { values[l.id] = nil }
            }
        }
        for node in plan.order where !plan.inlined.contains(node.id) {
            if grouped.contains(node.id) {
                guard let g = groupEndingAt[node.id] else { continue }
                run(g, plan: plan, values: &values)
                for n in g.kernels { release(plan.leaves[n.id] ?? []) }
                continue
            }
            let leaves = plan.leaves[node.id] ?? []
            // An elementwise kernel may write into a same-shaped input it reads for the last
            // time: the buffer is reused instead of a new one being allocated.
            var donor: Storage? = nil
            if node.op.isElementwise {
                for l in leaves
                where remaining[l.id] == 1 && !outputIDs.contains(l.id)
                    && l.shape == node.shape && (l.dtype == .i32) == (node.dtype == .i32)
                {
                    guard var v = values.removeValue(forKey: l.id) else { continue }
                    if v.isContiguous && v.offset == 0 && v.storage.elements == node.count
                        && v.storage.isOwned && isKnownUniquelyReferenced(&v.storage)
                    {
                        donor = v.storage
                    }
                    values[l.id] = v
                    if donor != nil { break }
                }
            }
            let v = try execute(node, plan: plan, values: values, reuse: donor)
            donor = nil
            values[node.id] = v
            release(leaves)
        }
        var arrays: [HostArray] = []
        for o in outputs {
            let c = contiguous(values[o.id].unsafelyUnwrapped)
            arrays.append(
                HostArray(shape: o.shape, dtype: o.dtype, storage: c.storage, offset: c.offset))
        }
        let snap = tracker.snapshot
        stats.peakBytes = snap.peak
        return Evaluation(arrays: arrays, stats: stats)
    }

    // MARK: allocation and accounting

    mutating func allocate(_ shape: [Int], _ dtype: DType) -> Value {
        let v = Value(allocating: shape, dtype: dtype, tracker: tracker)
        stats.allocatedBytes += v.count * 4
        return v
    }

    mutating func launched(reading inputs: [Value], writing output: Int) {
        stats.kernels += 1
        for i in inputs { stats.bytesRead += i.count * 4 }
        stats.bytesWritten += output * 4
    }

    /// `v` itself when contiguous, else a contiguous copy (a kernel).
    func contiguous(_ v: Value) -> Value {
        if v.isContiguous { return v }
        var copy = Value(allocating: v.shape, dtype: v.dtype, tracker: tracker)
        copyStrided(v, into: copy.storage.base.assumingMemoryBound(to: UInt32.self))
        copy.offset = 0
        return copy
    }

    mutating func materialize(_ v: Value) -> Value {
        if v.isContiguous { return v }
        launched(reading: [v], writing: v.count)
        stats.allocatedBytes += v.count * 4
        return contiguous(v)
    }

    /// Copies the elements of `v` in row-major order (bitwise: F32 and I32 alike).
    func copyStrided(_ v: Value, into dst: UnsafeMutablePointer<UInt32>) {
        let (dims, sets) = collapse(v.shape, [v.strides])
        let d = dims.isEmpty ? [1] : dims
        let st = dims.isEmpty ? [0] : sets[0]
        let inner = d[d.count - 1], s = st[st.count - 1]
        let lines = d.dropLast().reduce(1, *)
        let src = (v.storage.base + 4 * v.offset).assumingMemoryBound(to: UInt32.self)
        parallelRanges(
            lines, threads: threads, minimumPerRange: Swift.max(1, 4096 / Swift.max(inner, 1))
        ) { r in
            for line in r {
                var off = 0, l = line
                for a in stride(from: d.count - 2, through: 0, by: -1) {
                    off += (l % d[a]) * st[a]
                    l /= d[a]
                }
                let o = dst + line * inner
                if s == 1 {
                    o.update(from: src + off, count: inner)
                } else {
                    for i in 0..<inner { o[i] = src[off + i * s] }
                }
            }
        }
    }

    // MARK: dispatch

    mutating func execute(
        _ node: Node, plan: Schedule, values: [ObjectIdentifier: Value], reuse: Storage?
    ) throws(ComputeError) -> Value {
        func input(_ i: Int) -> Value { values[node.inputs[i].id].unsafelyUnwrapped }
        switch node.op {
        case .constant(let c):
            return constant(c, node)
        case .unary, .binary, .select, .cast:
            let program = FusedProgram(root: node, inlined: plan.inlined)
            return map(
                program, node, leaves: program.leaves.map { values[$0.id].unsafelyUnwrapped },
                reuse: reuse)
        case .reduce(let op, let axes):
            let program = FusedProgram(root: node, inlined: plan.inlined)
            return reduce(
                op, axes, program, node,
                leaves: program.leaves.map { values[$0.id].unsafelyUnwrapped })
        case .reshape:
            var v = materialize(input(0))
            v.shape = node.shape
            v.strides = Shape.strides(node.shape)
            return v
        case .permute(let perm):
            var v = input(0)
            v.shape = perm.map { v.shape[$0] }
            v.strides = perm.map { v.strides[$0] }
            return v
        case .slice(let start, let step):
            var v = input(0)
            for a in 0..<v.shape.count { v.offset += start[a] * v.strides[a] }
            v.strides = zip(v.strides, step).map { $0 * $1 }
            v.shape = node.shape
            return v
        case .broadcast:
            var v = input(0)
            v.strides = Shape.broadcastStrides(v.shape, v.strides, to: node.shape)
            v.shape = node.shape
            return v
        case .argmax(let axis): return argmax(input(0), axis: axis, node)
        case .softmax(let axis): return softmax(input(0), axis: axis, node)
        case .matmul: return matmul(input(0), input(1), node)
        case .concat(let axis):
            return concat(node.inputs.map { values[$0.id].unsafelyUnwrapped }, axis: axis, node)
        case .take(let axis): return try take(input(0), input(1), axis: axis, node)
        case .rmsNorm(let eps): return norm(input(0), weight: input(1), bias: nil, eps: eps, node)
        case .layerNorm(let eps):
            return norm(input(0), weight: input(1), bias: input(2), eps: eps, node)
        case .rope(let spec): return rope(input(0), spec, node)
        case .attention(let spec): return attention(input(0), input(1), input(2), spec, node)
        case .quantizedMatmul(let w): return quantizedMatmul(input(0), w, node)
        case .quantizedEmbedding(let w): return try quantizedEmbedding(input(0), w, node)
        }
    }

    mutating func constant(_ c: Constant, _ node: Node) -> Value {
        let n = node.count
        switch c {
        case .host(let s, let offset):
            return Value(
                storage: s, offset: offset, shape: node.shape, strides: Shape.strides(node.shape),
                dtype: node.dtype)
        case .bytes(let b):
            let r = b.raw
            if (node.dtype == .f32 || node.dtype == .i32),
                let p = r.baseAddress, Int(bitPattern: p) % 4 == 0
            {
                // In place: a weight of the mapped file is never copied.
                let s = Storage(borrowing: p, elements: n, owner: b.buffer)
                return Value(
                    storage: s, offset: 0, shape: node.shape, strides: Shape.strides(node.shape),
                    dtype: node.dtype)
            }
            let v = allocate(node.shape, node.dtype)
            stats.kernels += 1
            stats.bytesRead += b.count
            stats.bytesWritten += n * 4
            // In bounds: the constant's byte count was checked against its shape and dtype.
            if let base = r.baseAddress { Scalars.widen(base, n, from: node.dtype, into: v.floats) }
            return v
        }
    }

    // MARK: fused elementwise and reductions

    mutating func map(_ program: FusedProgram, _ node: Node, leaves: [Value], reuse: Storage?)
        -> Value
    {
        // In place is safe: the donor is read at exactly the positions written, each tile
        // read completely before it is written, and nothing else references the buffer.
        let out =
            reuse.map {
                Value(
                    storage: $0, offset: 0, shape: node.shape, strides: Shape.strides(node.shape),
                    dtype: node.dtype)
            } ?? allocate(node.shape, node.dtype)
        launched(reading: leaves, writing: out.count)
        let shape = node.shape
        let leafStrides = leaves.map { Shape.broadcastStrides($0.shape, $0.strides, to: shape) }
        let (dims, sets) = collapse(shape, leafStrides + [Shape.strides(shape)])
        let bound = BoundProgram(
            program: program, leaves: leaves, dims: dims, strides: Array(sets.dropLast()))
        let inner = bound.inner, tile = BoundProgram.tile
        let chunks = (inner + tile - 1) / tile
        let work = bound.lines * chunks
        let isInt = node.dtype == .i32
        let dst = out.storage.base
        parallelRanges(
            work, threads: threads,
            minimumPerRange: Swift.max(1, 8192 / Swift.max(1, Swift.min(inner, tile)))
        ) { r in
            bound.withScratch { scratch, pointers in
                for w in r {
                    let line = w / chunks, c0 = (w % chunks) * tile
                    bound.store(
                        line: line, c0: c0, n: Swift.min(tile, inner - c0), at: line * inner + c0,
                        into: dst, isInt: isInt, scratch: scratch, pointers: &pointers)
                }
            }
        }
        return out
    }

    mutating func reduce(
        _ op: ReduceOp, _ axes: [Int], _ program: FusedProgram, _ node: Node,
        leaves: [Value]
    ) -> Value {
        let out = allocate(node.shape, node.dtype)
        launched(reading: leaves, writing: out.count)
        let xShape = node.inputs[0].shape
        let kept = (0..<xShape.count).filter { !axes.contains($0) }
        let perm = kept + axes
        let pShape = perm.map { xShape[$0] }
        let leafStrides = leaves.map { l in
            let s = Shape.broadcastStrides(l.shape, l.strides, to: xShape)
            return perm.map { s[$0] }
        }
        let k = kept.count
        let (kd, ks) = collapse(Array(pShape[..<k]), leafStrides.map { Array($0[..<k]) })
        var (rd, rs) = collapse(Array(pShape[k...]), leafStrides.map { Array($0[k...]) })
        if rd.isEmpty {
            rd = [1]
            rs = rs.map { _ in [0] }
        }
        let dims = kd + rd
        let strides = leaves.indices.map { ks[$0] + rs[$0] }
        let bound = BoundProgram(program: program, leaves: leaves, dims: dims, strides: strides)
        let outputs = kd.reduce(1, *)
        let linesPerOut = rd.dropLast().reduce(1, *)
        let inner = rd[rd.count - 1]
        let total = Double(rd.reduce(1, *))
        let dst = out.floats
        let dtype = node.dtype
        parallelRanges(
            outputs, threads: threads,
            minimumPerRange: Swift.max(1, 8192 / Swift.max(1, inner * linesPerOut))
        ) { r in
            bound.withScratch { scratch, pointers in
                for o in r {
                    dst[o] = bound.reduce(
                        op, lines: (o * linesPerOut)..<((o + 1) * linesPerOut), total: total,
                        dtype: dtype, scratch: scratch, pointers: &pointers)
                }
            }
        }
        return out
    }

    /// Sum of a tile in 8 interleaved lanes (a fixed order: deterministic, vectorizable).
    @inline(__always)
    static func tileSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= n {
            acc += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var s = acc.sum()
        while i < n {
            s += p[i]
            i += 1
        }
        return s
    }
}

@inline(__always)
func naturalLog(_ x: Double) -> Double { log(x) }

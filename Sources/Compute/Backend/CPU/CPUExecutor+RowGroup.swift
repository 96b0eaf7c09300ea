import Formats

/// One kernel of a `RowGroup`, bound to its inputs and output, that computes any range of
/// rows with the same per-line bodies as the whole-kernel `map` and `reduce`.
struct RowKernel {
    enum Kind {
        /// Elementwise, `width` elements a row. `flat`: one element a row and all rows one
        /// line of the program (a [rows, 1] kernel is then not run element by element).
        case map(isInt: Bool, width: Int, flat: Bool)
        /// Over the last axis: one output a row.
        case reduce(ReduceOp, total: Double, dtype: DType)
    }

    let kind: Kind
    let bound: BoundProgram
    let dst: UnsafeMutableRawPointer

    /// Computes rows `rows` of the output (contiguous, row-major: row r is at r · width).
    func run(
        rows: Range<Int>, scratch: UnsafeMutablePointer<Float>,
        pointers: inout [UnsafeMutablePointer<Float>]
    ) {
        let tile = BoundProgram.tile
        switch kind {
        case .map(let isInt, let width, let flat):
            if flat {
                var c0 = rows.lowerBound
                while c0 < rows.upperBound {
                    let n = Swift.min(tile, rows.upperBound - c0)
                    bound.store(
                        line: 0, c0: c0, n: n, at: c0, into: dst, isInt: isInt, scratch: scratch,
                        pointers: &pointers)
                    c0 += n
                }
                return
            }
            for row in rows {
                var c0 = 0
                while c0 < width {
                    let n = Swift.min(tile, width - c0)
                    bound.store(
                        line: row, c0: c0, n: n, at: row * width + c0, into: dst, isInt: isInt,
                        scratch: scratch, pointers: &pointers)
                    c0 += n
                }
            }
        case .reduce(let op, let total, let dtype):
            let o = dst.assumingMemoryBound(to: Float.self)
            var row = rows.lowerBound
            if op == .sum || op == .mean, bound.summedBinary != nil {
                while row + 4 <= rows.upperBound {
                    let v = bound.sum4(op, line: row, total: total, dtype: dtype)
                    for j in 0..<4 { o[row + j] = v[j] }
                    row += 4
                }
            }
            while row < rows.upperBound {
                o[row] = bound.reduce(
                    op, lines: row..<(row + 1), total: total, dtype: dtype, scratch: scratch,
                    pointers: &pointers)
                row += 1
            }
        }
    }
}

extension CPUExecutor {
    /// Elements of the widest kernel in one block of rows (8 rows of 4096): blocks of x, u
    /// and y of 128 KB each stay in L2 (1 MB on Zen 4) between the reduction reading x and
    /// the epilogue re-reading it. 16K and 64K measured alike, within noise.
    static let rowBlockElements = 32768

    /// Runs the kernels of `group`: every output is allocated first, then blocks of rows
    /// are handed to the threads, and each runs every kernel of the group on its block
    /// before the next block. Each element is computed by the same code, in the same order,
    /// as kernel by kernel (a reduction still reads its row tile by tile), so results are
    /// bit-identical to those and do not depend on the thread count.
    ///
    /// Outputs are never written over an input (no donor): a later kernel of the block may
    /// read that input still.
    mutating func run(_ group: RowGroup, plan: Schedule, values: inout [ObjectIdentifier: Value]) {
        let members = Set(group.kernels.map(\.id))
        let prefix = group.prefix, k = prefix.count, rows = group.rows
        var kernels: [RowKernel] = []
        var counted = Set<ObjectIdentifier>()
        var widest = 1, registers = 1
        for node in group.kernels {
            let program = FusedProgram(root: node, inlined: plan.inlined)
            let leaves = program.leaves.map { values[$0.id].unsafelyUnwrapped }
            let out = allocate(node.shape, node.dtype)
            values[node.id] = out
            stats.kernels += 1
            stats.groupedKernels += 1
            stats.bytesWritten += out.count * 4
            for (leaf, v) in zip(program.leaves, leaves) {
                if members.contains(leaf.id) || !counted.insert(leaf.id).inserted {
                    stats.cachedBytesRead += v.count * 4
                } else {
                    stats.bytesRead += v.count * 4
                }
            }
            // Lines of the program are the rows: dims P + [width], uncollapsed.
            let it = RowGroup.iteration(node)
            let width = it.count == k ? 1 : it[k]
            var strides = leaves.map { Shape.broadcastStrides($0.shape, $0.strides, to: it) }
            if it.count == k { strides = strides.map { $0 + [0] } }
            widest = Swift.max(widest, width)
            registers = Swift.max(registers, program.registers)
            let dst = out.storage.base
            switch node.op {
            case .reduce(let op, _):
                let bound = BoundProgram(
                    program: program, leaves: leaves, dims: prefix + [width], strides: strides)
                kernels.append(
                    RowKernel(
                        kind: .reduce(op, total: Double(width), dtype: node.dtype), bound: bound,
                        dst: dst))
            default:
                let isInt = node.dtype == .i32
                // One element a row: when every input walks the rows with one stride, all
                // rows are one line, computed a tile at a time.
                if width == 1 {
                    let (pd, ps) = collapse(
                        prefix, strides.map { Array($0[..<k]) } + [Shape.strides(prefix)])
                    if pd.count <= 1 {
                        let bound = BoundProgram(
                            program: program, leaves: leaves, dims: pd,
                            strides: Array(ps.dropLast()))
                        kernels.append(
                            RowKernel(
                                kind: .map(isInt: isInt, width: 1, flat: true), bound: bound,
                                dst: dst))
                        continue
                    }
                }
                let bound = BoundProgram(
                    program: program, leaves: leaves, dims: prefix + [width], strides: strides)
                kernels.append(
                    RowKernel(
                        kind: .map(isInt: isInt, width: width, flat: false), bound: bound, dst: dst
                    ))
            }
        }
        let perBlock = Swift.max(1, Self.rowBlockElements / widest)
        let blocks = (rows + perBlock - 1) / perBlock
        parallelRanges(
            blocks, threads: threads,
            minimumPerRange: Swift.max(1, 8192 / (perBlock * widest))
        ) { r in
            BoundProgram.withScratch(registers: registers) { scratch, pointers in
                for b in r {
                    let block = (b * perBlock)..<Swift.min(rows, (b + 1) * perBlock)
                    for i in kernels.indices {
                        kernels[i].run(rows: block, scratch: scratch, pointers: &pointers)
                    }
                }
            }
        }
    }
}

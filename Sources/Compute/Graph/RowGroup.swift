/// Consecutive row-local kernels that the CPU backend runs block of rows by block of rows.
///
/// A reduction over the last axis followed by its elementwise epilogue (RMSNorm, a SiLU
/// gate) is 2 or 3 kernels even when fused: the reduction must finish a row before the
/// epilogue can read its result. Run kernel by kernel, each streams the whole input from
/// memory. Every kernel of a group only ever relates row r of what it reads to row r of what
/// it writes, so the group can instead run all its kernels on a few rows, then on the next
/// rows: the input of a block is read from memory once and re-read from cache (the
/// "reduction + epilogue" loop fusion of XLA, TVM and MLX).
///
/// Rows are the elements of a common leading shape `prefix` (P). A member is a reduction
/// over the last axis of a `P + [D]` input, or an elementwise kernel of shape `P + [d]` or
/// `P`; a member that reads another member reads it directly (no view in between) at the
/// same row, or broadcast along its row.
struct RowGroup {
    /// The kernels, in schedule order.
    let kernels: [Node]
    /// The leading dims that number the rows.
    let prefix: [Int]

    var rows: Int { prefix.reduce(1, *) }

    /// Elements per row of a member's output, `shape` being `P + [d]` or `P`; nil otherwise.
    static func width(of shape: [Int], prefix: [Int]) -> Int? {
        if shape == prefix { return 1 }
        guard shape.count == prefix.count + 1, Array(shape.dropLast()) == prefix else {
            return nil
        }
        return shape[shape.count - 1]
    }

    /// The shape a kernel iterates over: its output's, or a reduction's input's.
    static func iteration(_ n: Node) -> [Int] {
        if case .reduce = n.op { return n.inputs[0].shape }
        return n.shape
    }

    /// The prefix a group starting with `n` would have, or nil when `n` cannot be a member.
    static func prefix(startingAt n: Node) -> [Int]? {
        let shape = iteration(n)
        guard !shape.isEmpty, n.count > 0, shape.reduce(1, *) > 0 else { return nil }
        switch n.op {
        case .reduce(_, let axes):
            return axes == [shape.count - 1] ? Array(shape.dropLast()) : nil
        case .unary, .binary, .select, .cast:
            return Array(shape.dropLast())
        default:
            return nil
        }
    }

    /// Whether `n` can join a group over `prefix` whose members are `members`: it is
    /// row-local over `prefix`, and each member it reads (`leaves`: the stored nodes its
    /// kernel reads) is read at its own row.
    static func admits(
        _ n: Node, prefix: [Int], leaves: [Node], members: Set<ObjectIdentifier>
    ) -> Bool {
        guard self.prefix(startingAt: n) != nil else { return false }
        let it = iteration(n)
        if case .reduce = n.op {
            guard Array(it.dropLast()) == prefix else { return false }
        } else {
            guard width(of: it, prefix: prefix) != nil else { return false }
        }
        let k = prefix.count
        let rowStrides = Shape.strides(prefix)
        for q in leaves where members.contains(q.id) {
            guard let wq = width(of: q.shape, prefix: prefix), q.shape.count <= it.count
            else { return false }
            let s = Shape.broadcastStrides(q.shape, Shape.strides(q.shape), to: it)
            // Row dims: element (p, j) of the iteration reads row p of q.
            for a in 0..<k where it[a] != 1 && s[a] != rowStrides[a] * wq { return false }
            // The column dim: q's own columns, or its single column broadcast.
            if it.count == k + 1 && it[k] != 1 {
                guard wq == 1 ? s[k] == 0 : (wq == it[k] && s[k] == 1) else { return false }
            } else if it.count == k + 1 && wq != 1 {
                return false
            }
        }
        return true
    }

    /// The groups of `order` (kernels, views and constants in schedule order; inlined nodes
    /// left out): maximal runs of consecutive members; constants and views of non-members
    /// may lie between them (the executor runs them first, as they read no member). Only runs of two kernels or more holding a reduction are kept: an
    /// elementwise chain is one kernel already.
    static func find(
        _ order: [Node], inlined: Set<ObjectIdentifier>, leaves: [ObjectIdentifier: [Node]]
    ) -> [RowGroup] {
        var groups: [RowGroup] = []
        var current: [Node] = []
        var prefix: [Int] = []
        var members = Set<ObjectIdentifier>()
        func close() {
            let reduces = current.contains { if case .reduce = $0.op { true } else { false } }
            if current.count >= 2 && reduces {
                groups.append(RowGroup(kernels: current, prefix: prefix))
            }
            current = []
            members = []
        }
        for n in order where !inlined.contains(n.id) {
            // A constant, or a view of what is computed already, runs before the group does.
            if case .constant = n.op { continue }
            if n.op.isView && !n.inputs.contains(where: { members.contains($0.id) }) { continue }
            if !current.isEmpty
                && admits(n, prefix: prefix, leaves: leaves[n.id] ?? [], members: members)
            {
                current.append(n)
                members.insert(n.id)
                continue
            }
            close()
            if let p = self.prefix(startingAt: n) {
                current = [n]
                prefix = p
                members = [n.id]
            }
        }
        close()
        return groups
    }
}

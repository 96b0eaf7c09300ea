/// Orders a graph, decides which elementwise nodes run inside their consumer's loop, and
/// which consecutive kernels run together block of rows by block of rows (`RowGroup`).
struct Schedule {
    /// Nodes reachable from `outputs`, inputs before consumers (iterative: deep graphs are fine).
    static func topologicalOrder(_ outputs: [Node]) -> [Node] {
        var order: [Node] = []
        var state: [ObjectIdentifier: Bool] = [:]  // false: on the stack, true: done
        var stack: [(Node, Int)] = []
        for root in outputs where state[root.id] == nil {
            stack.append((root, 0))
            state[root.id] = false
            while let (node, next) = stack.last {
                if next < node.inputs.count {
                    stack[stack.count - 1].1 += 1
                    let child = node.inputs[next]
                    if state[child.id] == nil {
                        state[child.id] = false
                        stack.append((child, 0))
                    }
                } else {
                    stack.removeLast()
                    state[node.id] = true
                    order.append(node)
                }
            }
        }
        return order
    }

    let order: [Node]
    /// Elementwise nodes computed inside their single consumer's kernel (never stored).
    let inlined: Set<ObjectIdentifier>
    /// For each kernel root, the stored nodes its kernel reads.
    let leaves: [ObjectIdentifier: [Node]]
    /// How many kernels (or views) still have to read each stored node.
    let reads: [ObjectIdentifier: Int]
    /// Row-blocked groups of kernels (none without fusion: one pass per op).
    let groups: [RowGroup]

    /// Plans `outputs`: with `fusion`, an elementwise node whose only reader is an
    /// elementwise node of the same shape, or a reduction, is inlined into that reader.
    init(_ outputs: [Node], fusion: Bool) {
        order = Self.topologicalOrder(outputs)
        var uses: [ObjectIdentifier: Int] = [:]
        var consumer: [ObjectIdentifier: Node] = [:]
        for n in order {
            for i in n.inputs {
                uses[i.id, default: 0] += 1
                consumer[i.id] = n
            }
        }
        for o in outputs { uses[o.id, default: 0] += 1 }
        var inlined = Set<ObjectIdentifier>()
        if fusion {
            for n in order where n.op.isElementwise && uses[n.id] == 1 {
                guard let c = consumer[n.id] else { continue }
                if (c.op.isElementwise && c.shape == n.shape)
                    || { if case .reduce = c.op { true } else { false } }()
                {
                    inlined.insert(n.id)
                }
            }
        }
        self.inlined = inlined
        var leaves: [ObjectIdentifier: [Node]] = [:]
        var reads: [ObjectIdentifier: Int] = [:]
        for n in order where !inlined.contains(n.id) {
            var seen = Set<ObjectIdentifier>()
            var list: [Node] = []
            var stack = n.inputs
            while let x = stack.popLast() {
                if inlined.contains(x.id) {
                    stack.append(contentsOf: x.inputs)
                } else if seen.insert(x.id).inserted {
                    list.append(x)
                }
            }
            leaves[n.id] = list
            for l in list { reads[l.id, default: 0] += 1 }
        }
        self.leaves = leaves
        self.reads = reads
        groups = fusion ? RowGroup.find(order, inlined: inlined, leaves: leaves) : []
    }
}

import Formats
import GRDB

/// A checkpoint's place in its family: the chain of parents above it and the tree below.
public struct Lineage: Sendable, Hashable {
    /// A checkpoint and the checkpoints made from it.
    public struct Node: Sendable, Hashable {
        /// This node's entry.
        public var checkpoint: CheckpointRecord
        /// Entries whose parent is this one, by id.
        public var children: [Node]
    }

    /// Parents, the oldest first (the root of the chain), not including the entry itself.
    public var ancestors: [CheckpointRecord]
    /// The entry and its descendants.
    public var root: Node

    /// An indented tree, ancestors first: `#3 hf llama /models/smol`, then `└─ #7 ...`.
    public var text: String {
        func line(_ c: CheckpointRecord) -> String {
            var s = "#\(c.id ?? 0) \(c.format)"
            if let q = c.quantization { s += " \(q)" }
            s += " \(c.path)"
            if let op = c.operation { s += "  (\(op))" }
            return s
        }
        var out: [String] = []
        var depth = 0
        for a in ancestors {
            out.append(
                String(repeating: "   ", count: max(0, depth - 1)) + (depth > 0 ? "└─ " : "")
                    + line(a))
            depth += 1
        }
        func walk(_ n: Node, _ prefix: String, _ isLast: Bool, _ top: Bool) {
            let marker = top && depth == 0 ? "" : (isLast ? "└─ " : "├─ ")
            let mark = n.checkpoint.id == root.checkpoint.id ? "  <" : ""
            out.append(prefix + marker + line(n.checkpoint) + mark)
            let childPrefix = top && depth == 0 ? "" : prefix + (isLast ? "   " : "│  ")
            for (i, c) in n.children.enumerated() {
                walk(c, childPrefix, i == n.children.count - 1, false)
            }
        }
        walk(root, String(repeating: "   ", count: max(0, depth - 1)), true, true)
        return out.joined(separator: "\n")
    }
}

extension Catalog {
    /// The lineage of entry `id`: its parents up to the first, its descendants below.
    /// A parent chain that loops (possible only through hand edits) stops at the repeat.
    public func lineage(id: Int64) throws(CatalogError) -> Lineage {
        let result: Lineage? = try read { db in
            let all = try CheckpointRecord.fetchAll(db)
            var byId: [Int64: CheckpointRecord] = [:]
            var children: [Int64: [CheckpointRecord]] = [:]
            for c in all {
                guard let cid = c.id else { continue }
                byId[cid] = c
                if let p = c.parentId { children[p, default: []].append(c) }
            }
            guard let me = byId[id] else { return nil }
            var ancestors: [CheckpointRecord] = []
            var seen: Set<Int64> = [id]
            var cursor = me.parentId
            while let p = cursor, let c = byId[p], seen.insert(p).inserted {
                ancestors.insert(c, at: 0)
                cursor = c.parentId
            }
            func node(_ c: CheckpointRecord) -> Lineage.Node {
                let kids = (children[c.id ?? -1] ?? []).filter { seen.insert($0.id ?? -1).inserted }
                return Lineage.Node(checkpoint: c, children: kids.map(node))
            }
            return Lineage(ancestors: ancestors, root: node(me))
        }
        guard let result else { throw CatalogError(.notFound("\(id)"), path: path) }
        return result
    }
}

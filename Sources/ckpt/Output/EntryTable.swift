import Catalog

/// The readable table of `ckpt list` and the detail view of `ckpt show`.
enum EntryTable {
    static func render(_ entries: [CatalogEntry]) -> String {
        let header = ["ID", "FORMAT", "ARCH", "PARAMS", "DTYPE", "QUANT", "SIZE", "PARENT", "PATH"]
        let rows = entries.map { e -> [String] in
            let c = e.checkpoint
            return [
                "\(e.id)", c.format, c.architecture ?? "-", Terminal.count(Int(c.parameters)),
                c.dtype ?? "-",
                c.quantization ?? "-", Terminal.bytes(Int(c.sizeBytes)),
                c.parentId.map { "\($0)" } ?? "-", c.path,
            ]
        }
        let all = [header] + rows
        let widths = header.indices.map { i in all.map { $0[i].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { i, s in
                i == row.count - 1 ? s : s.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func detail(_ e: CatalogEntry) -> String {
        let c = e.checkpoint
        var lines = [
            "#\(e.id) \(c.path)",
            "  format:       \(c.format)",
            "  architecture: \(c.architecture ?? "-")",
            "  parameters:   \(c.parameters)",
            "  dtype:        \(c.dtype ?? "-")",
            "  quantization: \(c.quantization ?? "-")",
            "  size:         \(Terminal.bytes(Int(c.sizeBytes)))",
            "  created:      \(c.createdAt)",
            "  status:       \(c.status.rawValue)",
        ]
        if let p = c.parentId { lines.append("  parent:       #\(p)") }
        if let op = c.operation { lines.append("  operation:    \(op)") }
        if let r = c.repoId { lines.append("  repo:         \(r)@\(c.revision ?? "?")") }
        lines.append("  files:")
        for f in e.files {
            lines.append("    \(f.sha256)  \(Terminal.bytes(Int(f.sizeBytes)))  \(f.path)")
        }
        if !e.verifications.isEmpty { lines.append("  verifications:") }
        for v in e.verifications {
            lines.append(
                "    \(v.createdAt) against #\(v.againstId.map { "\($0)" } ?? "-"): "
                    + (v.passed ? "passed" : "FAILED")
                    + (v.klMean.map { " kl_mean \($0)" } ?? "")
                    + (v.top1.map { " top1 \($0)" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }
}

import Foundation
import Convert
import Formats

/// The human form of `ckpt inspect`: a summary, the metadata, then one row per tensor.
enum InspectionTable {
    /// Longest metadata value shown in full; longer ones and arrays are summarised.
    static let maxValueWidth = 80

    static func render(_ i: Inspection) -> String {
        var out: [String] = []
        out.append("\(i.path)")
        out.append(
            "format \(i.format.rawValue) · \(i.tensors.count) tensors · \(Terminal.count(i.parameterCount)) parameters · \(Terminal.bytes(i.totalBytes))"
        )
        let types = i.byType.map { "\($0.type) ×\($0.count) (\(Terminal.bytes($0.bytes)))" }
        if !types.isEmpty { out.append("types  " + types.joined(separator: ", ")) }
        if !i.metadata.isEmpty {
            out.append("")
            out.append("metadata (\(i.metadata.count) keys)")
            let width = min(48, i.metadata.keys.map(\.count).max() ?? 0)
            for (k, v) in i.metadata {
                out.append("  " + pad(k, width) + "  " + summary(v))
            }
        }
        out.append("")
        let rows = i.tensors.map { t in
            [t.name, t.type.description, "[" + t.shape.map(String.init).joined(separator: ", ") + "]", Terminal.bytes(t.byteCount)]
        }
        out.append(contentsOf: table(header: ["name", "dtype", "shape", "size"], rows: rows, rightAligned: [3]))
        out.append("")
        out.append("total  \(i.tensors.count) tensors, \(i.parameterCount) parameters, \(i.totalBytes) bytes")
        return out.joined(separator: "\n")
    }

    static func summary(_ v: MetadataValue) -> String {
        switch v {
        case .array(let a, let t):
            let kind = t.map { "\($0)" } ?? "value"
            let head = a.prefix(4).map { summary($0) }.joined(separator: ", ")
            return "[\(a.count) × \(kind)] " + (a.count > 4 ? "[\(head), …]" : "[\(head)]")
        case .object(let o):
            return "{\(o.count) keys}"
        default:
            let s = v.jsonString()
            return s.count > maxValueWidth ? String(s.prefix(maxValueWidth)) + "…" : s
        }
    }

    static func pad(_ s: String, _ w: Int) -> String {
        s.count >= w ? s : s + String(repeating: " ", count: w - s.count)
    }

    static func table(header: [String], rows: [[String]], rightAligned: Set<Int>) -> [String] {
        var widths = header.map(\.count)
        for r in rows { for (k, c) in r.enumerated() { widths[k] = max(widths[k], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { k, c in
                let fill = String(repeating: " ", count: widths[k] - c.count)
                return rightAligned.contains(k) ? fill + c : c + fill
            }.joined(separator: "  ")
        }
        return [line(header), widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ")] + rows.map(line)
    }
}

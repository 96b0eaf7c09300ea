import Foundation
import Convert
import Formats
import Quantize

/// How a finished conversion is shown.
enum ConversionReport {
    static func text(_ r: ConversionResult) -> String {
        let p = r.plan
        var actions: [String: Int] = [:]
        for t in p.tensors { actions[t.action.description, default: 0] += 1 }
        let summary = actions.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        let rate = r.seconds > 0 ? Double(r.bytesWritten) / r.seconds : 0
        var notes: [String: Int] = [:]
        for t in p.tensors { if let n = t.note ?? r.notes[t.source.name] { notes[n, default: 0] += 1 } }
        var noteLines = notes.sorted { $0.key < $1.key }.map { "\n  \($0.value) \($0.key)" }.joined()
        for (name, note) in otherNotes(r) { noteLines += "\n  \(name): \(note)" }
        return """
            wrote \(p.request.destination) (\(p.format.rawValue), \(p.tensors.count) tensors, \(Terminal.bytes(r.bytesWritten))) \
            from \(p.request.source) (\(p.sourceFormat.rawValue)) in \(String(format: "%.2f", r.seconds)) s \
            (\(Terminal.bytes(Int(rate)))/s)
              \(summary)\(noteLines)
            """
    }

    /// Notes about what is not a planned tensor (a GGUF tensor left out, a side file not
    /// written), sorted by name.
    static func otherNotes(_ r: ConversionResult) -> [(String, String)] {
        let planned = Set(r.plan.tensors.map(\.source.name))
        return r.notes.filter { !planned.contains($0.key) }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// One row per quantized tensor, worst relative error first.
    static func errorTable(_ r: ConversionResult) -> String {
        let rows = r.plan.tensors.compactMap { t -> (String, String, ErrorReport)? in
            r.errors[t.source.name].map { (t.source.name, t.output.type.description, $0) }
        }.sorted { $0.2.relativeRMSE > $1.2.relativeRMSE }
        var lines = ["tensor\ttype\trmse\tmax_abs_error\trelative_rmse"]
        for (name, type, e) in rows {
            lines.append(String(format: "%@\t%@\t%.3e\t%.3e\t%.4f", name, type, e.rmse, e.maxAbsError, e.relativeRMSE))
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ r: ConversionResult) -> MetadataValue {
        let p = r.plan
        return .object([
            "source": .string(p.request.source),
            "source_format": .string(p.sourceFormat.rawValue),
            "destination": .string(p.request.destination),
            "format": .string(p.format.rawValue),
            "files": .array(r.outputFiles.map { .string($0) }),
            "bytes_written": .int64(Int64(r.bytesWritten)),
            "seconds": .float64(r.seconds),
            "notes": .object(Metadata(uniqueKeysWithValues: otherNotes(r).map { ($0.0, MetadataValue.string($0.1)) })),
            "tensors": .array(p.tensors.map { t in
                var o: Metadata = [
                    "name": .string(t.output.name),
                    "dtype": .string(t.output.type.description),
                    "shape": .array(t.output.shape.map { .int64(Int64($0)) }),
                    "action": .string(t.action.description),
                    "source_dtype": .string(t.source.type.description),
                ]
                if let note = t.note ?? r.notes[t.source.name] { o["note"] = .string(note) }
                if let e = r.errors[t.source.name] {
                    o["error"] = .object([
                        "rmse": .float64(e.rmse), "max_abs_error": .float64(e.maxAbsError),
                        "relative_rmse": .float64(e.relativeRMSE),
                    ])
                }
                return .object(o)
            }),
            "lint": .array(r.lint.map { f in
                .object([
                    "severity": .string(f.severity.rawValue), "code": .string(f.code), "file": .string(f.file),
                    "tensor": f.tensor.map(MetadataValue.string) ?? .null, "message": .string(f.message),
                ])
            }),
        ])
    }
}

import Formats

/// What `ckpt convert --dry-run` shows: every tensor of a plan (source name and type, each
/// output's name, type, shape and bytes, the action) and the totals, computed from headers
/// alone. Nothing is written.
///
/// ```swift
/// let plan = try Converter.plan(ConversionRequest(source: "m", destination: "q", format: .mlx))
/// print(PlanReport.text(plan))
/// ```
public enum PlanReport {
    /// The `--dry-run --json` document: `{"source", "source_format", "destination", "format",
    /// "tensors": [{"source", "source_dtype", "source_shape", "source_bytes", "action",
    /// "outputs": [{"name", "dtype", "shape", "bytes"}], "note"?}], "totals": {"tensors",
    /// "outputs", "source_bytes", "output_bytes", "parameters"}, "config_quantization"?}`.
    public static func json(_ plan: ConversionPlan) -> MetadataValue {
        func shape(_ s: [Int]) -> MetadataValue { .array(s.map { .int64(Int64($0)) }) }
        let tensors: [MetadataValue] = plan.tensors.map { t in
            var o: Metadata = [
                "source": .string(t.source.name),
                "source_dtype": .string(t.source.type.description),
                "source_shape": shape(t.source.shape),
                "source_bytes": .int64(
                    Int64(t.source.byteCount + t.companions.reduce(0) { $0 + $1.byteCount })),
                "action": .string(t.action.description),
                "outputs": .array(
                    t.outputs.map { out in
                        .object([
                            "name": .string(out.name), "dtype": .string(out.type.description),
                            "shape": shape(out.shape), "bytes": .int64(Int64(out.byteCount)),
                        ])
                    }),
            ]
            if !t.companions.isEmpty {
                o["companions"] = .array(t.companions.map { .string($0.name) })
            }
            if let note = t.note { o["note"] = .string(note) }
            return .object(o)
        }
        var doc: Metadata = [
            "dry_run": .bool(true),
            "source": .string(plan.request.source),
            "source_format": .string(plan.sourceFormat.rawValue),
            "destination": .string(plan.request.destination),
            "format": .string(plan.format.rawValue),
            "tensors": .array(tensors),
            "totals": .object([
                "tensors": .int64(Int64(plan.tensors.count)),
                "outputs": .int64(Int64(plan.outputs.count)),
                "source_bytes": .int64(Int64(sourceBytes(plan))),
                "output_bytes": .int64(Int64(plan.outputBytes)),
                "parameters": .int64(Int64(plan.totalParameters)),
            ]),
        ]
        if let q = plan.mlxQuantizationConfig { doc["config_quantization"] = .object(q) }
        return .object(doc)
    }

    /// One line per output tensor (`source → output  dtype  shape  bytes  action`), then
    /// the totals.
    public static func text(_ plan: ConversionPlan) -> String {
        var lines = [
            "dry run: \(plan.request.source) (\(plan.sourceFormat.rawValue)) → \(plan.request.destination) (\(plan.format.rawValue)); nothing written"
        ]
        for t in plan.tensors {
            for (i, out) in t.outputs.enumerated() {
                let from = "\(t.source.name) \(t.source.type.description) \(t.source.shape)"
                var line =
                    "\(from) → \(out.name) \(out.type.description) \(out.shape) \(out.byteCount) B"
                if i == 0 { line += "  [\(t.action.description)]" }
                if i == 0, let note = t.note { line += "  (\(note))" }
                lines.append(line)
            }
        }
        lines.append(
            "total: \(plan.tensors.count) source tensors (\(sourceBytes(plan)) B) → \(plan.outputs.count) tensors (\(plan.outputBytes) B), \(plan.totalParameters) parameters"
        )
        return lines.joined(separator: "\n")
    }

    static func sourceBytes(_ plan: ConversionPlan) -> Int {
        plan.tensors.reduce(0) {
            $0 + $1.source.byteCount + $1.companions.reduce(0) { $0 + $1.byteCount }
        }
    }
}

extension Converter {
    /// Opens the source and plans the conversion without writing anything (`--dry-run`).
    /// - Throws: `FormatError` for an unreadable source, `ConvertError` for a conversion
    ///   that cannot be carried out as asked.
    public static func plan(_ request: ConversionRequest) throws -> ConversionPlan {
        try prepare(request).plan
    }
}

import Formats

/// A checkpoint with its files and verifications: what `ckpt list` and `ckpt show` print.
public struct CatalogEntry: Sendable, Hashable {
    /// The `checkpoint` row.
    public var checkpoint: CheckpointRecord
    /// Sorted by path.
    public var files: [FileRecord]
    /// Oldest first.
    public var verifications: [VerificationRecord]

    /// The entry's id (0 only for a record never inserted).
    public var id: Int64 { checkpoint.id ?? 0 }

    /// The entry as cli.md's `ckpt list --json` object: its keys in that order, then
    /// `repo_id`, `revision`, `status` and `ckpt_version`.
    public var json: MetadataValue {
        let c = checkpoint
        func opt(_ s: String?) -> MetadataValue { s.map(MetadataValue.string) ?? .null }
        func opt(_ d: Double?) -> MetadataValue { d.map(MetadataValue.float64) ?? .null }
        func opt(_ i: Int64?) -> MetadataValue { i.map(MetadataValue.int64) ?? .null }
        // Capacities sized to the keys below: no rehashing while the object fills.
        var o = Metadata(minimumCapacity: 19)
        o["id"] = .int64(id)
        o["path"] = .string(c.path)
        o["format"] = .string(c.format)
        o["architecture"] = opt(c.architecture)
        o["parameters"] = .int64(c.parameters)
        o["dtype"] = opt(c.dtype)
        o["quantization"] = opt(c.quantization)
        o["size_bytes"] = .int64(c.sizeBytes)
        o["created_at"] = .string(c.createdAt)
        o["files"] = .array(
            files.map { f in
                .object([
                    "path": .string(f.path), "size_bytes": .int64(f.sizeBytes),
                    "sha256": .string(f.sha256),
                ])
            })
        o["parent_id"] = opt(c.parentId)
        o["operation"] = opt(c.operation)
        o["verifications"] = .array(
            verifications.map { v in
                var r = Metadata(minimumCapacity: 10)
                r["against_id"] = opt(v.againstId)
                r["kl_mean"] = opt(v.klMean)
                r["top1_agreement"] = opt(v.top1)
                r["passed"] = .bool(v.passed)
                r["tokens"] = .int64(v.tokens)
                r["kl_max"] = opt(v.klMax)
                r["ppl_ref"] = opt(v.pplRef)
                r["ppl_cand"] = opt(v.pplCand)
                r["max_abs_error"] = opt(v.maxAbsError)
                r["mean_abs_error"] = opt(v.meanAbsError)
                r["cosine_min"] = opt(v.cosineMin)
                r["created_at"] = .string(v.createdAt)
                return .object(r)
            })
        o["repo_id"] = opt(c.repoId)
        o["revision"] = opt(c.revision)
        o["status"] = .string(c.status.rawValue)
        o["ckpt_version"] = opt(c.ckptVersion)
        return .object(o)
    }
}

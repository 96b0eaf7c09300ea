import GRDB

/// Files with the same sha256 recorded at different places.
public struct DuplicateGroup: Sendable, Hashable {
    /// The shared digest.
    public var sha256: String
    /// Size of one copy.
    public var sizeBytes: Int64
    /// Absolute paths, sorted.
    public var paths: [String]
    /// Distinct files on disk among `paths` (hub snapshots sharing a blob count once;
    /// paths gone from disk count as their own).
    public var distinctFiles: Int
    /// Bytes freed by keeping one copy: (distinct files − 1) × size.
    public var reclaimableBytes: Int64
}

extension Catalog {
    /// Groups of files with equal sha256 that are at least two distinct files on disk,
    /// the biggest reclaimable first.
    public func duplicates() throws(CatalogError) -> [DuplicateGroup] {
        let rows: [(String, Int64, String)] = try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT f.sha256 AS sha, f.size_bytes AS size, c.path AS cpath,
                           c.format AS format, f.path AS fpath
                    FROM file f JOIN checkpoint c ON c.id = f.checkpoint_id
                    WHERE f.sha256 IN (SELECT sha256 FROM file GROUP BY sha256 HAVING count(*) > 1)
                    ORDER BY f.sha256
                    """
            ).map { r in
                // Throwing decodes: a damaged database is an error, never a trap.
                let format: String = try r.decode(forColumn: "format")
                let cpath: String = try r.decode(forColumn: "cpath")
                let fpath: String = try r.decode(forColumn: "fpath")
                let isDir = CheckpointRecord.isDirectory(format: format)
                return (
                    try r.decode(forColumn: "sha"), try r.decode(forColumn: "size"),
                    isDir ? cpath + "/" + fpath : cpath
                )
            }
        }
        var groups: [String: (Int64, Set<String>)] = [:]
        for (sha, size, p) in rows {
            groups[sha, default: (size, [])].1.insert(p)
        }
        var out: [DuplicateGroup] = []
        for (sha, (size, paths)) in groups where paths.count > 1 {
            let identities = Set(
                paths.map { p in
                    FileStat(path: p).map { "\($0.device):\($0.inode)" } ?? "missing:" + p
                })
            guard identities.count > 1 else { continue }
            let (r, o) = size.multipliedReportingOverflow(by: Int64(identities.count - 1))
            out.append(
                DuplicateGroup(
                    sha256: sha, sizeBytes: size, paths: paths.sorted(),
                    distinctFiles: identities.count, reclaimableBytes: o ? .max : r))
        }
        return out.sorted { ($0.reclaimableBytes, $1.sha256) > ($1.reclaimableBytes, $0.sha256) }
    }
}

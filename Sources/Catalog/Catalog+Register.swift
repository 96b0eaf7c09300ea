import Foundation
import Formats
import GRDB

/// Where a checkpoint came from, when it is a Hugging Face hub cache snapshot.
public struct CheckpointOrigin: Sendable, Hashable {
    /// `ORG/NAME`.
    public var repoId: String
    /// The snapshot's commit.
    public var revision: String?

    /// An origin for a hub snapshot: `ORG/NAME` and the snapshot's commit.
    public init(repoId: String, revision: String?) {
        self.repoId = repoId
        self.revision = revision
    }
}

/// A checkpoint described and hashed, ready to be written in one short transaction.
struct PreparedCheckpoint {
    var record: CheckpointRecord
    var files: [FileRecord]
}

extension Catalog {
    /// Registers (or refreshes) the checkpoint at `path`, read through `source`.
    ///
    /// Files are hashed first, outside any transaction (skipping those whose path, size and
    /// mtime are unchanged since this entry last hashed them); then the entry and its files are
    /// written in one transaction. A convert calls this only after its output has been
    /// renamed into place, so a process killed mid-convert leaves no entry behind.
    /// Re-registering a path updates its entry in place (same id, same creation time).
    /// - Parameters:
    ///   - path: the checkpoint file or directory (made absolute).
    ///   - source: the opened checkpoint, for its description.
    ///   - parent: the id of the checkpoint it was made from.
    ///   - operation: the command and options that made it.
    ///   - origin: the hub repository and revision, for a hub cache snapshot.
    /// - Returns: the entry as stored.
    /// - Throws: `CatalogError` when a file cannot be read or the database refuses.
    @discardableResult
    public func register(
        path: String, source: any TensorSource, parent: Int64? = nil, operation: String? = nil,
        origin: CheckpointOrigin? = nil
    ) throws(CatalogError) -> CatalogEntry {
        var prepared = try prepare(
            path: path, description: CheckpointDescription(source: source), origin: origin)
        prepared.record.parentId = parent
        prepared.record.operation = operation
        return try commit(prepared)
    }

    /// Describes and hashes a batch of checkpoints; the files of all of them are hashed
    /// together, so both cores stay busy even when each checkpoint is one file.
    func prepare(
        _ items: [(path: String, description: CheckpointDescription, origin: CheckpointOrigin?)]
    ) throws(CatalogError) -> [Result<PreparedCheckpoint, CatalogError>] {
        let known = try knownHashes(
            checkpoints: items.map { CheckpointScanner.absolute($0.path) })
        var drafts: [(CheckpointRecord, [(relative: String, absolute: String, stat: FileStat?)])] =
            []
        var toHash: [String] = []
        for item in items {
            let abs = CheckpointScanner.absolute(item.path)
            let d = item.description
            var record = CheckpointRecord(
                id: nil, path: abs, format: d.format.rawValue, architecture: d.architecture,
                parameters: Int64(d.parameters), dtype: d.dtype, quantization: d.quantization,
                sizeBytes: 0, createdAt: Self.now(), parentId: nil, operation: nil,
                ckptVersion: Self.ckptVersion, repoId: item.origin?.repoId,
                revision: item.origin?.revision, status: .complete)
            let files = CheckpointScanner.files(of: abs, isDirectory: record.isDirectory).map {
                rel in
                let a = record.absolutePath(ofFile: rel)
                return (relative: rel, absolute: a, stat: FileStat(path: a))
            }
            for f in files {
                guard let st = f.stat else { continue }
                if let k = known[f.absolute], k.size == st.size, k.mtimeNs == st.mtimeNs {
                    continue
                }
                toHash.append(f.absolute)
            }
            record.sizeBytes = files.reduce(0) { $0 + ($1.stat?.size ?? 0) }
            drafts.append((record, files))
        }
        let digests = Dictionary(
            zip(toHash, FileHasher.sha256(paths: toHash)), uniquingKeysWith: { a, _ in a })
        return drafts.map { record, files in
            guard FileStat(path: record.path) != nil else {
                return .failure(CatalogError(.io("no such file or directory"), path: record.path))
            }
            var out: [FileRecord] = []
            for f in files {
                guard let st = f.stat else {
                    return .failure(CatalogError(.io("vanished while scanning"), path: f.absolute))
                }
                let sha: String
                if let r = digests[f.absolute] {
                    switch r {
                    case .success(let s): sha = s
                    case .failure(let e): return .failure(e)
                    }
                } else if let k = known[f.absolute] {
                    sha = k.sha256
                } else {
                    return .failure(CatalogError(.io("not hashed"), path: f.absolute))
                }
                out.append(
                    FileRecord(
                        id: nil, checkpointId: 0, path: f.relative, sizeBytes: st.size,
                        mtimeNs: st.mtimeNs, sha256: sha))
            }
            if out.isEmpty {
                return .failure(CatalogError(.io("no files in the checkpoint"), path: record.path))
            }
            return .success(PreparedCheckpoint(record: record, files: out))
        }
    }

    func prepare(
        path: String, description: CheckpointDescription, origin: CheckpointOrigin?
    ) throws(CatalogError) -> PreparedCheckpoint {
        let results = try prepare([(path, description, origin)])
        switch results[0] {
        case .success(let p): return p
        case .failure(let e): throw e
        }
    }

    /// Writes one prepared checkpoint and its files in a single transaction.
    func commit(_ prepared: PreparedCheckpoint) throws(CatalogError) -> CatalogEntry {
        let id: Int64 = try write { db in
            var record = prepared.record
            if let old = try CheckpointRecord.filter(Column("path") == record.path).fetchOne(db) {
                record.id = old.id
                record.createdAt = old.createdAt
                record.parentId = record.parentId ?? old.parentId
                record.operation = record.operation ?? old.operation
                record.repoId = record.repoId ?? old.repoId
                record.revision = record.revision ?? old.revision
                try record.update(db)
                try FileRecord.filter(Column("checkpoint_id") == old.id).deleteAll(db)
            } else {
                try record.insert(db)
            }
            guard let id = record.id else { throw CatalogError(.database("no id after insert")) }
            if let parent = record.parentId, parent == id {
                throw CatalogError(.invalid("a checkpoint cannot be its own parent"))
            }
            for var f in prepared.files {
                f.checkpointId = id
                try f.insert(db)
            }
            return id
        }
        return try entry(id: id)
    }

    /// Checkpoint paths per `knownHashes` query: well under SQLite's default limit of 32,766
    /// bound parameters (SQLITE_MAX_VARIABLE_NUMBER, sqlite.org/limits.html).
    static let knownHashesBatch = 500

    /// The last recorded (size, mtime, sha256) of the files of the entries at `checkpoints`
    /// (absolute paths), by absolute file path. Only those entries are read (through the
    /// unique index on `checkpoint.path`), so registering stays O(1) in the catalog's size;
    /// reading every file row made 10,000 registrations take minutes.
    func knownHashes(checkpoints: [String]) throws(CatalogError) -> [String: (
        size: Int64, mtimeNs: Int64, sha256: String
    )] {
        let paths = Array(Set(checkpoints))
        guard !paths.isEmpty else { return [:] }
        return try read { db in
            var out: [String: (Int64, Int64, String)] = [:]
            for start in stride(from: 0, to: paths.count, by: Self.knownHashesBatch) {
                let batch = Array(paths[start..<min(start + Self.knownHashesBatch, paths.count)])
                let marks = Array(repeating: "?", count: batch.count).joined(separator: ", ")
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT c.path AS cpath, c.format AS format, f.path AS fpath,
                               f.size_bytes AS size, f.mtime_ns AS mtime, f.sha256 AS sha
                        FROM checkpoint c JOIN file f ON f.checkpoint_id = c.id
                        WHERE c.path IN (\(marks))
                        """, arguments: StatementArguments(batch))
                try Self.collectHashes(rows, into: &out)
            }
            return out
        }
    }

    private static func collectHashes(
        _ rows: [Row], into out: inout [String: (Int64, Int64, String)]
    ) throws {
        for r in rows {
                // Throwing decodes: a damaged database is an error, never a trap.
                let cpath: String = try r.decode(forColumn: "cpath")
                let format: String = try r.decode(forColumn: "format")
                let fpath: String = try r.decode(forColumn: "fpath")
                let isDir = CheckpointRecord.isDirectory(format: format)
                out[isDir ? cpath + "/" + fpath : cpath] = (
                    try r.decode(forColumn: "size"), try r.decode(forColumn: "mtime"),
                    try r.decode(forColumn: "sha")
                )
        }
    }

    /// Records a `ckpt verify` result on the candidate's entry.
    @discardableResult
    public func recordVerification(
        candidate: Int64, _ result: VerificationRecord
    ) throws(CatalogError) -> VerificationRecord {
        try write { db in
            var r = result
            r.checkpointId = candidate
            r.createdAt = Self.now()
            guard try CheckpointRecord.exists(db, key: candidate) else {
                throw CatalogError(.notFound("\(candidate)"))
            }
            try r.insert(db)
            return r
        }
    }
}

extension Catalog {
    /// Records that entry `id` was made from `parent` (`ckpt add --parent`).
    /// - Throws: `CatalogError.invalid` when that would make a loop.
    @discardableResult
    public func setParent(of id: Int64, to parent: Int64?) throws(CatalogError) -> CatalogEntry {
        try write { db in
            var cursor = parent
            var seen: Set<Int64> = []
            while let p = cursor, seen.insert(p).inserted {
                if p == id {
                    throw CatalogError(
                        .invalid("#\(parent ?? 0) descends from #\(id): that would be a loop"))
                }
                cursor = try Int64.fetchOne(
                    db, sql: "SELECT parent_id FROM checkpoint WHERE id = ?", arguments: [p])
            }
            try db.execute(
                sql: "UPDATE checkpoint SET parent_id = ? WHERE id = ?", arguments: [parent, id])
        }
        return try entry(id: id)
    }
}

extension Catalog {
    /// Records that an operation meant to produce `path` failed (status `failed`, no
    /// files), so that the attempt and its options stay on record.
    ///
    /// When a completed entry already exists at `path` it is returned unchanged: a failed
    /// convert never touches an existing output (it writes to a temporary name), so the old
    /// entry still describes the bytes on disk.
    @discardableResult
    public func recordFailure(
        path: String, format: CheckpointFormat, parent: Int64? = nil, operation: String?
    ) throws(CatalogError) -> CatalogEntry {
        let abs = CheckpointScanner.absolute(path)
        let id: Int64 = try write { db in
            if let old = try CheckpointRecord.filter(Column("path") == abs).fetchOne(db),
                let id = old.id
            {
                guard old.status == .failed else { return id }
                try db.execute(
                    sql:
                        "UPDATE checkpoint SET parent_id = ?, operation = ?, created_at = ? WHERE id = ?",
                    arguments: [parent, operation, Self.now(), id])
                return id
            }
            var record = CheckpointRecord(
                id: nil, path: abs, format: format.rawValue, architecture: nil, parameters: 0,
                dtype: nil, quantization: nil, sizeBytes: 0, createdAt: Self.now(),
                parentId: parent, operation: operation, ckptVersion: Self.ckptVersion,
                repoId: nil, revision: nil, status: .failed)
            try record.insert(db)
            guard let id = record.id else { throw CatalogError(.database("no id after insert")) }
            return id
        }
        return try entry(id: id)
    }
}

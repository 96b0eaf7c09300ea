import Foundation

/// The state of one recorded file, as `ckpt check` found it.
public enum FileCheck: Sendable, Hashable {
    /// Same size and sha256 as recorded.
    case ok
    /// Size or sha256 differ from the record.
    case modified(sizeBytes: Int64, sha256: String)
    /// Not at its recorded place, but a file with its size and sha256 is in the checkpoint
    /// at this relative path.
    case moved(to: String)
    /// Not there, and no copy found within the checkpoint.
    case missing
    /// There, but could not be read.
    case unreadable(String)

    /// `ok`, `modified`, `moved`, `missing` or `unreadable`, as `check --json` prints it.
    public var name: String {
        switch self {
        case .ok: "ok"
        case .modified: "modified"
        case .moved: "moved"
        case .missing: "missing"
        case .unreadable: "unreadable"
        }
    }
}

/// `ckpt check` of one entry.
public struct CheckReport: Sendable, Hashable {
    /// The entry as recorded (not changed by the check).
    public var entry: CatalogEntry
    /// One per recorded file, in the entry's file order.
    public var files: [(file: FileRecord, state: FileCheck)]

    /// True when every file is as recorded.
    public var isClean: Bool { files.allSatisfy { $0.state == .ok } }

    public static func == (a: CheckReport, b: CheckReport) -> Bool {
        a.entry == b.entry && a.files.map(\.file) == b.files.map(\.file)
            && a.files.map(\.state) == b.files.map(\.state)
    }

    public func hash(into h: inout Hasher) {
        h.combine(entry)
        for f in files { h.combine(f.file); h.combine(f.state) }
    }
}

extension Catalog {
    /// Re-hashes the files of entries `ids` (all entries when empty) and compares them with
    /// the record. Unlike registration, nothing is skipped on an unchanged mtime: this is
    /// the check that the bytes are still the ones recorded. The catalog is not changed.
    public func check(ids: [Int64] = []) throws(CatalogError) -> [CheckReport] {
        var entries: [CatalogEntry] = []
        if ids.isEmpty {
            entries = try list()
        } else {
            for id in ids { entries.append(try entry(id: id)) }
        }
        // First pass: hash every present file, all entries together.
        var present: [String] = []
        for e in entries {
            for f in e.files {
                let p = e.checkpoint.absolutePath(ofFile: f.path)
                if FileStat(path: p)?.isRegular == true { present.append(p) }
            }
        }
        let digests = Dictionary(
            zip(present, FileHasher.sha256(paths: present)), uniquingKeysWith: { a, _ in a })

        var reports: [CheckReport] = []
        for e in entries {
            var states: [(FileRecord, FileCheck)] = []
            var missing: [Int] = []
            for f in e.files {
                let p = e.checkpoint.absolutePath(ofFile: f.path)
                guard let st = FileStat(path: p), st.isRegular, let d = digests[p] else {
                    missing.append(states.count)
                    states.append((f, .missing))
                    continue
                }
                switch d {
                case .success(let sha):
                    states.append(
                        (
                            f,
                            sha == f.sha256 && st.size == f.sizeBytes
                                ? .ok : .modified(sizeBytes: st.size, sha256: sha)
                        ))
                case .failure(let err):
                    states.append((f, .unreadable(err.description)))
                }
            }
            if !missing.isEmpty, e.checkpoint.isDirectory {
                for (i, to) in movedFiles(e, missing: missing.map { states[$0].0 }) {
                    if let to { states[missing[i]].1 = .moved(to: to) }
                }
            }
            reports.append(CheckReport(entry: e, files: states))
        }
        return reports
    }

    /// For each missing file, the relative path of an unrecorded file in the same
    /// checkpoint directory with the same size and sha256, if any.
    func movedFiles(_ e: CatalogEntry, missing: [FileRecord]) -> [(Int, String?)] {
        let recorded = Set(e.files.map(\.path))
        let unrecorded = CheckpointScanner.files(of: e.checkpoint.path, isDirectory: true)
            .filter { !recorded.contains($0) }
        let sizes = Set(missing.map(\.sizeBytes))
        let candidates = unrecorded.filter {
            FileStat(path: e.checkpoint.path + "/" + $0).map { sizes.contains($0.size) } ?? false
        }
        let digests = FileHasher.sha256(paths: candidates.map { e.checkpoint.path + "/" + $0 })
        var bySha: [String: String] = [:]
        for (rel, d) in zip(candidates, digests) {
            if case .success(let sha) = d, bySha[sha] == nil { bySha[sha] = rel }
        }
        return missing.enumerated().map { i, f in (i, bySha[f.sha256]) }
    }
}

import Foundation
import GRDB

/// What `ckpt rm` did.
public struct Removal: Sendable, Hashable {
    /// The entry removed from the catalog.
    public var entry: CatalogEntry
    /// Absolute paths of the files deleted from disk (empty unless asked to delete them).
    public var deletedFiles: [String]
}

extension Catalog {
    /// Removes entry `id` from the catalog: its files and verifications go with it, and its
    /// children lose their parent (SQL `ON DELETE SET NULL`). The checkpoint's files stay on
    /// disk unless `deleteFiles` is true; then its recorded files are unlinked (a hub
    /// snapshot's symlinks, not the shared blobs) and its directory removed once empty.
    /// - Throws: `CatalogError.notFound`, or `.io` naming a file that could not be deleted
    ///   (the entry is then kept, so that nothing is forgotten while still on disk).
    @discardableResult
    public func remove(id: Int64, deleteFiles: Bool = false) throws(CatalogError) -> Removal {
        let entry = try entry(id: id)
        var deleted: [String] = []
        if deleteFiles {
            let c = entry.checkpoint
            for f in entry.files {
                let p = c.absolutePath(ofFile: f.path)
                guard (try? FileManager.default.attributesOfItem(atPath: p)) != nil else {
                    continue
                }
                do {
                    try FileManager.default.removeItem(atPath: p)
                } catch {
                    throw CatalogError(.io("cannot delete: \(error.localizedDescription)"), path: p)
                }
                deleted.append(p)
            }
            if c.isDirectory { Self.removeEmptyDirectories(c.path) }
        }
        _ = try write { db in try CheckpointRecord.deleteOne(db, key: id) }
        return Removal(entry: entry, deletedFiles: deleted)
    }

    /// Removes `dir` and its subdirectories when they hold no files (deepest first).
    static func removeEmptyDirectories(_ dir: String) {
        let fm = FileManager.default
        for child in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] {
            var isDir: ObjCBool = false
            let p = dir + "/" + child
            if fm.fileExists(atPath: p, isDirectory: &isDir), isDir.boolValue {
                removeEmptyDirectories(p)
            }
        }
        if let rest = try? fm.contentsOfDirectory(atPath: dir), rest.isEmpty {
            try? fm.removeItem(atPath: dir)
        }
    }
}

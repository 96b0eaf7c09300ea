import Archive
import Formats
import Foundation

/// `ckpt pack` and `ckpt unpack` with the catalog: an archive is recorded like any checkpoint,
/// with its source as parent, and unpacking checks every restored file against the sha256
/// the catalog recorded for that source.
extension CatalogedOperations {
    /// The catalog's format name for a `.ckz` archive (one file, whatever it holds).
    public static let archiveFormat = "ckz"

    /// What `unpack` found when it checked the restored files against the catalog.
    public struct UnpackCheck: Sendable {
        /// Files whose sha256 equals the one recorded for the archive's source.
        public var verified: Int
        /// The catalog entry the files were checked against, if the archive was catalogued.
        public var sourceEntry: CatalogEntry?
    }

    /// Packs `source` into `destination` and records both in the catalog (the archive with the
    /// source as parent). The catalog is optional: a failure there is a warning, not an error.
    public static func pack(
        _ source: String, to destination: String, level: Int, catalogPath: String?
    ) throws -> (summary: PackSummary, entry: CatalogEntry?, warning: String?) {
        let summary = try ArchiveWriter(level: level).pack(source, to: destination)
        guard let catalogPath else { return (summary, nil, nil) }
        do {
            let catalog = try Catalog(path: catalogPath)
            // A directory that is not a model (no config.json) packs fine but has no entry.
            let parent = try? catalog.register(path: source, source: try Checkpoint.open(source))
            let inner = try Archive.openCheckpoint(destination)
            let entry = try catalog.register(
                archive: destination, description: CheckpointDescription(source: inner), parent: parent?.id,
                operation: "pack --level \(level)")
            return (summary, entry, parent == nil ? "the source is not a checkpoint ckpt reads: recorded without a parent" : nil)
        } catch {
            return (summary, nil, "catalog not updated: \(error)")
        }
    }

    /// Restores `archive` at `destination`. When the catalog knows the archive and its source,
    /// every restored file's sha256 must equal the one recorded for the source; on a mismatch
    /// nothing is left at `destination` and the error names the file.
    public static func unpack(
        _ archive: String, to destination: String, catalogPath: String?
    ) throws -> (check: UnpackCheck, warning: String?) {
        let reader = try ArchiveReader(path: archive)
        guard let catalogPath else {
            try reader.extract(to: destination)
            return (UnpackCheck(verified: 0, sourceEntry: nil), nil)
        }
        let recorded: CatalogEntry?
        do {
            let catalog = try Catalog(path: catalogPath)
            recorded = try catalog.id(ofPath: archive).map { try catalog.entry(id: $0) }
                .flatMap { entry in try entry.checkpoint.parentId.map { try catalog.entry(id: $0) } }
        } catch {
            try reader.extract(to: destination)
            return (UnpackCheck(verified: 0, sourceEntry: nil), "catalog not read: \(error)")
        }
        guard let source = recorded else {
            try reader.extract(to: destination)
            return (UnpackCheck(verified: 0, sourceEntry: nil), nil)
        }
        // Restore beside the destination, check, then move into place.
        let fm = FileManager.default
        var exists: ObjCBool = false
        if fm.fileExists(atPath: destination, isDirectory: &exists),
            !exists.boolValue || (try? fm.contentsOfDirectory(atPath: destination).isEmpty) != true
        {
            throw FormatError(
                .invalid("destination exists and is not an empty directory; not overwritten"), file: destination)
        }
        let staging = Self.stagingPath(for: destination)
        try reader.extract(to: staging)
        do {
            let verified = try Self.compare(staging, isDirectory: reader.isDirectory, with: source)
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: destination, isDirectory: &isDir), isDir.boolValue,
                (try? fm.contentsOfDirectory(atPath: destination).isEmpty) == true
            {
                try fm.removeItem(atPath: destination)
            }
            do {
                try fm.moveItem(atPath: staging, toPath: destination)
            } catch {
                throw CatalogError(.io("cannot move the restored files into place: \(error.localizedDescription)"), path: destination)
            }
            var warning: String?
            do {
                let catalog = try Catalog(path: catalogPath)
                let archiveId = try catalog.id(ofPath: archive)
                try catalog.register(
                    path: destination, source: try Checkpoint.open(destination), parent: archiveId, operation: "unpack")
            } catch {
                warning = "catalog not updated: \(error)"
            }
            return (UnpackCheck(verified: verified, sourceEntry: source), warning)
        } catch {
            try? fm.removeItem(atPath: staging)
            throw error
        }
    }

    static func stagingPath(for destination: String) -> String {
        let url = URL(fileURLWithPath: destination)
        return url.deletingLastPathComponent().appendingPathComponent(
            ".\(url.lastPathComponent).verify-\(UUID().uuidString.prefix(8))"
        ).path
    }

    /// Every file the catalog recorded for `entry` must be in `path` with that sha256.
    static func compare(_ path: String, isDirectory: Bool, with entry: CatalogEntry) throws -> Int {
        var verified = 0
        for file in entry.files {
            let restored = isDirectory ? path + "/" + file.path : path
            guard FileManager.default.fileExists(atPath: restored) else {
                throw CatalogError(
                    .invalid("\(file.path) is recorded for catalog entry #\(entry.id) but the archive does not restore it"),
                    path: entry.checkpoint.path)
            }
            let sha = try FileHasher.sha256(path: restored)
            guard sha == file.sha256 else {
                throw CatalogError(
                    .invalid(
                        "\(file.path): restored sha256 \(sha) differs from \(file.sha256) recorded for catalog entry #\(entry.id); nothing written"
                    ), path: entry.checkpoint.path)
            }
            verified += 1
        }
        return verified
    }
}

extension Catalog {
    /// Records a `.ckz` archive: one file, described by the checkpoint inside it, format
    /// `ckz`.
    @discardableResult
    public func register(
        archive path: String, description: CheckpointDescription, parent: Int64?, operation: String?
    ) throws(CatalogError) -> CatalogEntry {
        // Prepared as a single-file checkpoint (its one file is the archive itself) …
        var single = description
        single.format = .safetensors
        var prepared = try prepare(path: path, description: single, origin: nil)
        // … and stored under the archive's own format name.
        prepared.record.format = CatalogedOperations.archiveFormat
        prepared.record.parentId = parent
        prepared.record.operation = operation
        return try commit(prepared)
    }
}

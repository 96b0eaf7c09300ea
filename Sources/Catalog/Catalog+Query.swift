import Formats
import GRDB

/// Which entries `list` returns, and in which order.
public struct ListFilter: Sendable, Hashable {
    /// The order of `ckpt list`.
    public enum Sort: String, Sendable, CaseIterable {
        case id, path, size, parameters, created
    }

    /// Only this format (`CheckpointFormat` raw value).
    public var format: String?
    /// Only this architecture.
    public var architecture: String?
    /// true: only quantized entries; false: only unquantized; nil: both.
    public var quantized: Bool?
    /// Only entries whose path starts with this (made absolute).
    public var pathPrefix: String?
    /// The order, ties broken by id.
    public var sort: Sort
    /// Largest (or latest) first.
    public var descending: Bool

    /// A filter; the default lists everything by id.
    public init(
        format: String? = nil, architecture: String? = nil, quantized: Bool? = nil,
        pathPrefix: String? = nil, sort: Sort = .id, descending: Bool = false
    ) {
        self.format = format
        self.architecture = architecture
        self.quantized = quantized
        self.pathPrefix = pathPrefix
        self.sort = sort
        self.descending = descending
    }
}

extension Catalog {
    /// Every entry that passes `filter`, with files and verifications, in three queries
    /// whatever the number of entries.
    public func list(_ filter: ListFilter = ListFilter()) throws(CatalogError) -> [CatalogEntry] {
        try read { db in
            var request = CheckpointRecord.all()
            if let f = filter.format { request = request.filter(Column("format") == f) }
            if let a = filter.architecture {
                request = request.filter(Column("architecture") == a)
            }
            if let q = filter.quantized {
                request = request.filter(
                    q ? Column("quantization") != nil : Column("quantization") == nil)
            }
            if let p = filter.pathPrefix {
                let prefix = CheckpointScanner.absolute(p)
                // substr instead of LIKE: paths may contain % and _.
                request = request.filter(
                    sql: "substr(path, 1, length(?)) = ?", arguments: [prefix, prefix])
            }
            let column: Column
            switch filter.sort {
            case .id: column = Column("id")
            case .path: column = Column("path")
            case .size: column = Column("size_bytes")
            case .parameters: column = Column("parameters")
            case .created: column = Column("created_at")
            }
            request = request.order(filter.descending ? column.desc : column.asc, Column("id"))
            let checkpoints = try request.fetchAll(db)
            // Sorting keeps every row: the child tables are then read whole, with no id list
            // (which SQLite caps at 32,766 parameters).
            let everyRow =
                filter.format == nil && filter.architecture == nil && filter.quantized == nil
                && filter.pathPrefix == nil
            return try Self.attach(db, checkpoints, all: everyRow)
        }
    }

    /// The entry with this id.
    /// - Throws: `CatalogError.notFound`.
    public func entry(id: Int64) throws(CatalogError) -> CatalogEntry {
        let found: CatalogEntry? = try read { db in
            guard let c = try CheckpointRecord.fetchOne(db, key: id) else { return nil }
            return try Self.attach(db, [c], all: false).first
        }
        guard let found else { throw CatalogError(.notFound("\(id)"), path: path) }
        return found
    }

    /// Files and verifications for `checkpoints`; `all` says they are the whole table, so
    /// the child tables are read without an id list.
    static func attach(
        _ db: Database, _ checkpoints: [CheckpointRecord], all: Bool
    ) throws -> [CatalogEntry] {
        let ids = checkpoints.compactMap(\.id)
        var files: [Int64: [FileRecord]] = [:]
        var verifications: [Int64: [VerificationRecord]] = [:]
        let fileRequest =
            all ? FileRecord.all() : FileRecord.filter(ids.contains(Column("checkpoint_id")))
        for f in try fileRequest.order(Column("checkpoint_id"), Column("path")).fetchAll(db) {
            files[f.checkpointId, default: []].append(f)
        }
        let vRequest =
            all
            ? VerificationRecord.all()
            : VerificationRecord.filter(ids.contains(Column("checkpoint_id")))
        for v in try vRequest.order(Column("id")).fetchAll(db) {
            verifications[v.checkpointId, default: []].append(v)
        }
        return checkpoints.map { c in
            CatalogEntry(
                checkpoint: c, files: files[c.id ?? -1] ?? [],
                verifications: verifications[c.id ?? -1] ?? [])
        }
    }
}

import GRDB

/// One row of the `file` table: a file of a checkpoint, with the digest the hub shows.
public struct FileRecord: Codable, Sendable, Hashable {
    /// Row id; nil before insertion.
    public var id: Int64?
    /// The checkpoint it belongs to (deleted with it).
    public var checkpointId: Int64
    /// Relative to the checkpoint directory (a single-file checkpoint: its file name).
    public var path: String
    /// Size when it was hashed.
    public var sizeBytes: Int64
    /// Modification time in nanoseconds since the epoch, when it was hashed; with the size it
    /// decides whether the file must be hashed again.
    public var mtimeNs: Int64
    /// Lowercase hex sha256 of the file's bytes (the hub's LFS `oid`).
    public var sha256: String
}

extension FileRecord: FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "file"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy
        .convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy
        .convertToSnakeCase

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    /// The columns, in table order; `init(row:)` reads them by position.
    static let columns = ["id", "checkpoint_id", "path", "size_bytes", "mtime_ns", "sha256"]

    /// Requests select exactly `columns`, in that order.
    public static var databaseSelection: [any SQLSelectable] { columns.map { Column($0) } }

    /// Decodes by position rather than through Codable (see `CheckpointRecord.init(row:)`).
    public init(row: Row) throws {
        try RowShape.check(row, columns: Self.columns, table: Self.databaseTableName)
        id = try row.decode(atIndex: 0)
        checkpointId = try row.decode(atIndex: 1)
        path = try row.decode(atIndex: 2)
        sizeBytes = try row.decode(atIndex: 3)
        mtimeNs = try row.decode(atIndex: 4)
        sha256 = try row.decode(atIndex: 5)
    }
}

import Formats
import GRDB

/// Whether a catalog entry describes a finished checkpoint.
public enum CheckpointStatus: String, Codable, Sendable, Hashable, DatabaseValueConvertible {
    /// Written completely (or found on disk) and described.
    case complete
    /// An operation that was meant to produce it failed; kept for the record.
    case failed
}

/// One row of the `checkpoint` table: a checkpoint file or directory and what it holds.
public struct CheckpointRecord: Codable, Sendable, Hashable {
    /// Row id; nil before insertion.
    public var id: Int64?
    /// Absolute path of the file or directory.
    public var path: String
    /// `CheckpointFormat`'s raw value (`safetensors`, `gguf`, `mlx`, ...).
    public var format: String
    /// `llama`, `bert`, ... from config.json or GGUF metadata.
    public var architecture: String?
    /// Number of weights (MLX packed weights counted unpacked).
    public var parameters: Int64
    /// The dense floating dtypes present, by decreasing bytes (`BF16`, `BF16+F32`).
    public var dtype: String?
    /// `affine 4-bit g64`, `Q4_K_M`, ... or nil when not quantized.
    public var quantization: String?
    /// Sum of the sizes of its files.
    public var sizeBytes: Int64
    /// ISO 8601 UTC, second precision (`2026-11-30T12:00:00Z`).
    public var createdAt: String
    /// The checkpoint it was made from (NULL once that entry is removed).
    public var parentId: Int64?
    /// The command and options that made it (`convert --to mlx --bits 4 --group-size 64`).
    public var operation: String?
    /// The ckpt version that made or registered it.
    public var ckptVersion: String?
    /// Hugging Face repository id (`ORG/NAME`) for a hub cache snapshot.
    public var repoId: String?
    /// Hugging Face commit of a hub cache snapshot.
    public var revision: String?
    /// `complete`, or `failed` for an operation that did not finish.
    public var status: CheckpointStatus

    /// Directory formats keep their files under `path`; the others are one file, `path` itself.
    public var isDirectory: Bool { Self.isDirectory(format: format) }

    /// Whether entries of this format are directories (`hf`, `mlx`).
    static func isDirectory(format: String) -> Bool {
        format == CheckpointFormat.hf.rawValue || format == CheckpointFormat.mlx.rawValue
    }

    /// The absolute path of one of its files, given the path relative to the checkpoint.
    public func absolutePath(ofFile relative: String) -> String {
        isDirectory ? path + "/" + relative : path
    }
}

extension CheckpointRecord: FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "checkpoint"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy
        .convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy
        .convertToSnakeCase

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    /// The columns, in table order; `init(row:)` reads them by position.
    static let columns = [
        "id", "path", "format", "architecture", "parameters", "dtype", "quantization",
        "size_bytes", "created_at", "parent_id", "operation", "ckpt_version", "repo_id",
        "revision", "status",
    ]

    /// Requests select exactly `columns`, in that order.
    public static var databaseSelection: [any SQLSelectable] { columns.map { Column($0) } }

    /// Decodes by position rather than through Codable, whose snake-case key conversion
    /// dominated `list` (about 30 us a row). Decoding throws on a damaged value, never traps.
    public init(row: Row) throws {
        try RowShape.check(row, columns: Self.columns, table: Self.databaseTableName)
        id = try row.decode(atIndex: 0)
        path = try row.decode(atIndex: 1)
        format = try row.decode(atIndex: 2)
        architecture = try row.decode(atIndex: 3)
        parameters = try row.decode(atIndex: 4)
        dtype = try row.decode(atIndex: 5)
        quantization = try row.decode(atIndex: 6)
        sizeBytes = try row.decode(atIndex: 7)
        createdAt = try row.decode(atIndex: 8)
        parentId = try row.decode(atIndex: 9)
        operation = try row.decode(atIndex: 10)
        ckptVersion = try row.decode(atIndex: 11)
        repoId = try row.decode(atIndex: 12)
        revision = try row.decode(atIndex: 13)
        status = try row.decode(atIndex: 14)
    }
}

import GRDB

/// One row of the `verification` table: a `ckpt verify` of a checkpoint against another.
public struct VerificationRecord: Codable, Sendable, Hashable {
    /// Row id; nil before insertion.
    public var id: Int64?
    /// The candidate that was verified.
    public var checkpointId: Int64
    /// The reference it was compared with (nil once that entry is removed).
    public var againstId: Int64?
    /// Number of tokens both models were run on.
    public var tokens: Int64
    /// KL(ref || cand) per position: mean and max (cli.md `verify`).
    public var klMean: Double?
    public var klMax: Double?
    /// Fraction of positions where both models' top-1 token agree.
    public var top1: Double?
    /// Next-token perplexities of the sequence under each model.
    public var pplRef: Double?
    public var pplCand: Double?
    /// Largest absolute difference of the logits.
    public var maxAbsError: Double?
    /// Whether every threshold given to `verify` held.
    public var passed: Bool
    /// ISO 8601 UTC, second precision.
    public var createdAt: String
    /// Mean absolute difference of the outputs (schema v2).
    public var meanAbsError: Double?
    /// Smallest cosine similarity of the two output vectors over positions (schema v2).
    public var cosineMin: Double?

    /// A result to record; `checkpointId` and `createdAt` are filled in by the catalog.
    public init(
        againstId: Int64?, tokens: Int64, klMean: Double? = nil, klMax: Double? = nil,
        top1: Double? = nil, pplRef: Double? = nil, pplCand: Double? = nil,
        maxAbsError: Double? = nil, meanAbsError: Double? = nil, cosineMin: Double? = nil, passed: Bool
    ) {
        self.checkpointId = 0
        self.againstId = againstId
        self.tokens = tokens
        self.klMean = klMean
        self.klMax = klMax
        self.top1 = top1
        self.pplRef = pplRef
        self.pplCand = pplCand
        self.maxAbsError = maxAbsError
        self.meanAbsError = meanAbsError
        self.cosineMin = cosineMin
        self.passed = passed
        self.createdAt = ""
    }
}

extension VerificationRecord: FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "verification"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy
        .convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy
        .convertToSnakeCase

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    /// The columns, in table order; `init(row:)` reads them by position.
    static let columns = [
        "id", "checkpoint_id", "against_id", "tokens", "kl_mean", "kl_max", "top1", "ppl_ref",
        "ppl_cand", "max_abs_error", "passed", "created_at", "mean_abs_error", "cosine_min",
    ]

    /// Requests select exactly `columns`, in that order.
    public static var databaseSelection: [any SQLSelectable] { columns.map { Column($0) } }

    /// Decodes by position rather than through Codable (see `CheckpointRecord.init(row:)`).
    public init(row: Row) throws {
        try RowShape.check(row, columns: Self.columns, table: Self.databaseTableName)
        id = try row.decode(atIndex: 0)
        checkpointId = try row.decode(atIndex: 1)
        againstId = try row.decode(atIndex: 2)
        tokens = try row.decode(atIndex: 3)
        klMean = try row.decode(atIndex: 4)
        klMax = try row.decode(atIndex: 5)
        top1 = try row.decode(atIndex: 6)
        pplRef = try row.decode(atIndex: 7)
        pplCand = try row.decode(atIndex: 8)
        maxAbsError = try row.decode(atIndex: 9)
        passed = try row.decode(atIndex: 10)
        createdAt = try row.decode(atIndex: 11)
        meanAbsError = try row.decode(atIndex: 12)
        cosineMin = try row.decode(atIndex: 13)
    }
}

import GRDB

/// The check that makes positional row decoding safe: GRDB traps on an index past the end
/// of a row, so a record first makes sure the row has the columns it reads.
enum RowShape {
    /// Throws when `row` has fewer columns than `columns` (a request that did not use the
    /// record's `databaseSelection`, or a damaged schema); positional reads are then in range.
    static func check(_ row: Row, columns: [String], table: String) throws {
        guard row.count >= columns.count else {
            throw CatalogError(
                .database(
                    "\(table) row has \(row.count) columns (\(Array(row.columnNames))), "
                        + "expected \(columns.count) (\(columns))"))
        }
    }
}

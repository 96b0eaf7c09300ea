import Foundation
import Formats
import GRDB

/// The catalog: an SQLite database (WAL) recording every checkpoint ckpt has read or written,
/// its files and their sha256, where it came from and how it was verified.
///
/// Several processes may use one catalog at once: writers wait for each other (busy timeout)
/// and every write is one short transaction, so an entry appears whole or not at all. Opening
/// never resets anything: a damaged file, a foreign database or a schema from a newer ckpt is
/// an error that leaves the file untouched.
///
/// ```swift
/// let catalog = try Catalog(path: CatalogLocation.resolve(flag: nil, environment: env)!)
/// let entry = try catalog.register(path: "out/model-q4", source: source, parent: 3,
///                                  operation: "convert --to mlx --bits 4")
/// ```
public final class Catalog: Sendable {
    /// How long a writer waits for another process's transaction before giving up.
    public static let busyTimeout: TimeInterval = 30

    /// The ckpt version recorded with each entry.
    public static let ckptVersion = "0.1.0"

    /// The database file.
    public let path: String
    let pool: DatabasePool

    /// Opens (creating if needed, with its directory) the catalog at `path` and brings its
    /// schema up to date.
    /// - Throws: `CatalogError.notACatalog` for a damaged or foreign file,
    ///   `.newerSchema` when a newer ckpt migrated it, `.database` / `.io` otherwise.
    public init(path: String) throws(CatalogError) {
        self.path = path
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            do {
                try FileManager.default.createDirectory(
                    atPath: dir, withIntermediateDirectories: true)
            } catch {
                throw CatalogError(.io("cannot create directory \(dir): \(error)"), path: path)
            }
        }
        var config = Configuration()
        config.busyMode = .timeout(Self.busyTimeout)
        config.foreignKeysEnabled = true
        config.label = "ckpt.catalog"
        // Creating a new database (switching it to WAL, migrating it) takes locks that SQLite's
        // busy handler does not always wait for; a process that opens the same new catalog at
        // that moment retries for a while instead of failing.
        var attempt = 0
        while true {
            do {
                let opened = try DatabasePool(path: path, configuration: config)
                try Self.migrate(opened, path: path)
                pool = opened
                return
            } catch let error as DatabaseError
                where [.SQLITE_BUSY, .SQLITE_LOCKED].contains(error.resultCode)
                && attempt < Self.openRetries
            {
                attempt += 1
                usleep(50_000)
            } catch {
                throw CatalogError.wrap(error, path: path)
            }
        }
    }

    /// Attempts, 50 ms apart, to open a catalog another process is creating (≈ 30 s).
    static let openRetries = 600
    /// Checks, 50 ms apart, for another process's migrations to complete (≈ 5 s).
    static let migrationWaits = 100

    private static func migrate(_ pool: DatabasePool, path: String) throws {
        let migrator = CatalogMigrations.migrator
        let known = Set(migrator.migrations)
        do {
            let (applied, hasTables) = try pool.read { db in
                (
                    try migrator.appliedIdentifiers(db),
                    try Int.fetchOne(
                        db,
                        // grdb_migrations alone: another process is creating the catalog.
                        sql: "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name <> 'grdb_migrations'")
                        ?? 0
                )
            }
            let unknown = applied.subtracting(known)
            if !unknown.isEmpty {
                throw CatalogError(.newerSchema(Array(unknown)), path: path)
            }
            if applied.isEmpty, hasTables > 0 {
                throw CatalogError(
                    .notACatalog("an SQLite database with tables but no ckpt migrations"),
                    path: path)
            }
            if applied == known { return }
            do {
                try migrator.migrate(pool)
            } catch {
                // Another process may be migrating the same catalog: each migration is its own
                // transaction, so ours can collide with one it already applied. Wait for it to
                // finish (≈ 5 s at most) rather than fail.
                for _ in 0..<Self.migrationWaits {
                    if try pool.read({ try migrator.hasCompletedMigrations($0) }) { return }
                    usleep(50_000)
                }
                throw error
            }
        } catch let error as DatabaseError {
            throw error  // busy/locked: the caller retries; others are wrapped there
        } catch {
            throw CatalogError.wrap(error, path: path)
        }
    }

    /// Runs `body` in one write transaction, mapping errors to `CatalogError`.
    func write<T>(_ body: (Database) throws -> T) throws(CatalogError) -> T {
        do { return try pool.write(body) } catch { throw CatalogError.wrap(error, path: path) }
    }

    /// Runs `body` on a read-only snapshot, mapping errors to `CatalogError`.
    func read<T>(_ body: (Database) throws -> T) throws(CatalogError) -> T {
        do { return try pool.read(body) } catch { throw CatalogError.wrap(error, path: path) }
    }

    /// The current time as stored: ISO 8601 UTC, second precision.
    static func now() -> String {
        timestamp(secondsSinceEpoch: Int(Date().timeIntervalSince1970.rounded(.down)))
    }

    /// `2026-11-30T12:00:00Z` for a time in whole seconds since the epoch, formatted by hand:
    /// a fresh ISO8601DateFormatter per call (it is not Sendable) cost more than the rest of
    /// a registration. Civil date from days by Howard Hinnant's `civil_from_days`
    /// (howardhinnant.github.io/date_algorithms.html); years 0 to 9999 print as four digits.
    static func timestamp(secondsSinceEpoch t: Int) -> String {
        let days = t >= 0 ? t / 86_400 : -((-t + 86_399) / 86_400)
        let secs = t - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let y = String(year)
        let year4 = year >= 0 && year < 1000 ? String(repeating: "0", count: 4 - y.count) + y : y
        return "\(year4)-\(two(month))-\(two(day))T\(two(secs / 3600)):"
            + "\(two(secs / 60 % 60)):\(two(secs % 60))Z"
    }

    /// The id of the entry at `path` (made absolute), if any.
    public func id(ofPath path: String) throws(CatalogError) -> Int64? {
        let p = CheckpointScanner.absolute(path)
        return try read { db in
            try Int64.fetchOne(db, sql: "SELECT id FROM checkpoint WHERE path = ?", arguments: [p])
        }
    }

    /// The entry whose id is `reference` (all digits) or whose path is `reference`.
    /// - Throws: `CatalogError.notFound` when there is none.
    public func resolve(_ reference: String) throws(CatalogError) -> Int64 {
        if let id = Int64(reference), try exists(id) { return id }
        if let id = try id(ofPath: reference) { return id }
        throw CatalogError(.notFound(reference), path: path)
    }

    func exists(_ id: Int64) throws(CatalogError) -> Bool {
        try read { db in try CheckpointRecord.exists(db, key: id) }
    }
}

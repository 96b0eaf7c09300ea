import GRDB

/// The catalog schema, as GRDB migrations that only grow.
///
/// A shipped migration is never edited: a change goes into a new one ("v2", ...). SQLite holds
/// the invariants (NOT NULL, UNIQUE, CHECK, foreign keys), so that no writer, whatever its
/// version, can store an entry that breaks them.
enum CatalogMigrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "checkpoint") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("path", .text).notNull().unique()
                t.column("format", .text).notNull()
                t.column("architecture", .text)
                t.column("parameters", .integer).notNull().check { $0 >= 0 }
                t.column("dtype", .text)
                t.column("quantization", .text)
                t.column("size_bytes", .integer).notNull().check { $0 >= 0 }
                t.column("created_at", .text).notNull()
                t.column("parent_id", .integer)
                    .references("checkpoint", onDelete: .setNull).indexed()
                t.column("operation", .text)
                t.column("ckpt_version", .text)
                t.column("repo_id", .text)
                t.column("revision", .text)
                t.column("status", .text).notNull()
                    .check(sql: "status IN ('complete', 'failed')")
                t.check(sql: "parent_id IS NULL OR parent_id <> id")
            }
            try db.create(table: "file") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("checkpoint_id", .integer).notNull()
                    .references("checkpoint", onDelete: .cascade).indexed()
                t.column("path", .text).notNull()
                t.column("size_bytes", .integer).notNull().check { $0 >= 0 }
                t.column("mtime_ns", .integer).notNull()
                t.column("sha256", .text).notNull().indexed()
                    .check(sql: "length(sha256) = 64")
                t.uniqueKey(["checkpoint_id", "path"])
            }
            try db.create(table: "verification") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("checkpoint_id", .integer).notNull()
                    .references("checkpoint", onDelete: .cascade).indexed()
                t.column("against_id", .integer)
                    .references("checkpoint", onDelete: .setNull)
                t.column("tokens", .integer).notNull().check { $0 >= 0 }
                t.column("kl_mean", .double)
                t.column("kl_max", .double)
                t.column("top1", .double)
                t.column("ppl_ref", .double)
                t.column("ppl_cand", .double)
                t.column("max_abs_error", .double)
                t.column("passed", .boolean).notNull()
                t.column("created_at", .text).notNull()
            }
        }
        // v2: the rest of `ckpt verify`'s statistics (cli.md), appended to the verification row.
        migrator.registerMigration("v2") { db in
            try db.alter(table: "verification") { t in
                t.add(column: "mean_abs_error", .double)
                t.add(column: "cosine_min", .double)
            }
        }
        return migrator
    }
}

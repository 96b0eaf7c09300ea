import Catalog
import Foundation
import Formats
import TestSupport
import Testing

@Suite("Catalog database")
struct CatalogDatabaseTests {
    @Test("a new catalog gets schema v1 in WAL mode with foreign keys")
    func migrationsFromEmpty() throws {
        let box = Sandbox()
        _ = try box.open()
        #expect(FileManager.default.fileExists(atPath: box.catalogPath))
        let r = try Process.runCapturing(
            "/usr/bin/sqlite3",
            [
                box.catalogPath, "SELECT identifier FROM grdb_migrations;", "PRAGMA journal_mode;",
                "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name;",
                "SELECT sql FROM sqlite_master WHERE name='checkpoint';",
            ])
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(Array(lines.prefix(2)) == ["v1", "v2"])
        #expect(lines.contains("wal"))
        for table in ["checkpoint", "file", "verification"] { #expect(lines.contains(table)) }
        #expect(r.stdout.contains("ON DELETE SET NULL"))
        // Opening again is a no-op, not a second migration.
        _ = try box.open()
    }

    @Test(
        "the catalog location follows flag, CKPT_CATALOG, XDG_DATA_HOME, HOME",
        arguments: [
            ("/f.sqlite", ["CKPT_CATALOG": "/e.sqlite"], "/f.sqlite"),
            (nil, ["CKPT_CATALOG": "/e.sqlite", "XDG_DATA_HOME": "/x"], "/e.sqlite"),
            (nil, ["XDG_DATA_HOME": "/x", "HOME": "/h"], "/x/ckpt/catalog.sqlite"),
            (nil, ["XDG_DATA_HOME": "", "HOME": "/h"], "/h/.local/share/ckpt/catalog.sqlite"),
            ("", ["CKPT_CATALOG": "", "HOME": "/h"], "/h/.local/share/ckpt/catalog.sqlite"),
        ] as [(String?, [String: String], String)])
    func location(flag: String?, env: [String: String], expected: String) {
        #expect(CatalogLocation.resolve(flag: flag, environment: env) == expected)
    }

    @Test("no location at all resolves to nil")
    func noLocation() {
        #expect(CatalogLocation.resolve(flag: nil, environment: [:]) == nil)
    }

    @Test("a database migrated by a newer ckpt is an error and is left as it was")
    func newerSchema() throws {
        let box = Sandbox()
        _ = try box.open()
        _ = try Process.runCapturing(
            "/usr/bin/sqlite3",
            [box.catalogPath, "INSERT INTO grdb_migrations VALUES ('v2-future');"])
        let error = #expect(throws: CatalogError.self) { try box.open() }
        #expect(error?.reason == .newerSchema(["v2-future"]))
        #expect(error?.description.contains(box.catalogPath) == true)
        #expect(error?.description.contains("v2-future") == true)
        // Nothing was reset or migrated: the history and the tables are still there.
        let r = try Process.runCapturing(
            "/usr/bin/sqlite3",
            [
                box.catalogPath, "SELECT identifier FROM grdb_migrations ORDER BY identifier;",
                "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN ('checkpoint', 'file', 'verification');",
            ])
        #expect(r.stdout == "v1\nv2\nv2-future\n3\n")
    }

    @Test(
        "a file that is not SQLite is reported, never reset",
        arguments: [
            CorruptFile("text", Array("garbage, not a database".utf8)),
            CorruptFile(
                "SQLite magic, then 0xFF",
                Array("SQLite format 3\0".utf8) + [UInt8](repeating: 0xFF, count: 200)),
            CorruptFile("4 KiB of zeros", [UInt8](repeating: 0, count: 4096)),
        ])
    func corruptFile(_ file: CorruptFile) throws {
        let bytes = file.bytes
        let box = Sandbox()
        try box.write("db/catalog.sqlite", bytes)
        let error = #expect(throws: CatalogError.self) { try box.open() }
        if case .notACatalog = error?.reason {
        } else {
            Issue.record("expected notACatalog, got \(String(describing: error))")
        }
        let after = try Data(contentsOf: URL(fileURLWithPath: box.catalogPath))
        #expect(Array(after) == bytes)
    }

    @Test("someone else's SQLite database is not adopted as a catalog")
    func foreignDatabase() throws {
        let box = Sandbox()
        try FileManager.default.createDirectory(
            atPath: box.dir + "/db", withIntermediateDirectories: true)
        _ = try Process.runCapturing(
            "/usr/bin/sqlite3", [box.catalogPath, "CREATE TABLE notes(x);"])
        let error = #expect(throws: CatalogError.self) { try box.open() }
        if case .notACatalog = error?.reason {
        } else {
            Issue.record("expected notACatalog, got \(String(describing: error))")
        }
        let tables = try Process.runCapturing(
            "/usr/bin/sqlite3", [box.catalogPath, "SELECT name FROM sqlite_master;"])
        #expect(tables.stdout == "notes\n")
    }

    @Test("two processes writing the same new catalog at once both land")
    func concurrentWriters() throws {
        let box = Sandbox()
        let perProcess = 25
        var files: [[String]] = [[], []]
        for p in 0..<2 {
            for i in 0..<perProcess {
                files[p].append(try box.write("p\(p)/m\(i).safetensors", "process \(p) file \(i)"))
            }
        }
        let writer = productsDirectory + "/catalog-writer"
        try #require(
            FileManager.default.isExecutableFile(atPath: writer), "build with --build-tests")
        let processes = try files.map { list -> Process in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: writer)
            p.arguments = [box.catalogPath] + list
            p.standardError = FileHandle.standardError
            try p.run()
            return p
        }
        for p in processes {
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
        }
        let entries = try box.open().list()
        #expect(entries.count == 2 * perProcess)
        #expect(Set(entries.map(\.checkpoint.path)) == Set(files.flatMap { $0 }))
        #expect(
            entries.allSatisfy {
                $0.files.count == 1 && $0.checkpoint.operation == "catalog-writer"
            })
    }

    @Test("foreign keys hold in SQL: a parent that does not exist is refused")
    func foreignKeys() throws {
        let box = Sandbox()
        let catalog = try box.open()
        let p = try box.write("m.safetensors", "x")
        #expect(throws: CatalogError.self) {
            try catalog.register(path: p, source: FakeSource.dense(), parent: 999)
        }
        #expect(try catalog.list().isEmpty)
    }
}

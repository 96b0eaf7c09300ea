import Catalog
import Foundation
import Formats
import TestSupport
import Testing

/// The catalog commands, run as the `ckpt` binary (stdout JSON, stderr, exit status).
@Suite("Catalog commands")
struct CatalogCLITests {
    func ckpt(_ args: [String]) throws -> Python.Result {
        let exe = productsDirectory + "/ckpt"
        try #require(FileManager.default.isExecutableFile(atPath: exe), "build with --build-tests")
        return try runProduct("ckpt", args)
    }

    @Test("list --json on a fresh catalog prints an empty array and creates the database")
    func emptyList() throws {
        let box = Sandbox()
        let r = try ckpt(["list", "--catalog", box.catalogPath, "--json"])
        #expect(r.status == 0)
        #expect(try JSON.parse(r.stdout) == .array([]))
        #expect(FileManager.default.fileExists(atPath: box.catalogPath))
    }

    @Test("list and show --json print the entries the library wrote, one document each")
    func listAndShow() throws {
        let box = Sandbox()
        let catalog = try box.open()
        let a = try catalog.register(
            path: try box.write("a.safetensors", "aa"), source: FakeSource.dense())
        let b = try catalog.register(
            path: try box.write("b.safetensors", "bb"), source: FakeSource.dense(), parent: a.id,
            operation: "convert --dtype f16")
        let list = try ckpt(["list", "--catalog", box.catalogPath, "--json"])
        #expect(list.status == 0)
        let parsed = try #require(try JSON.parse(list.stdout).arrayValue)
        #expect(parsed.count == 2)
        #expect(parsed[1]["parent_id"]?.intValue == a.id)
        #expect(parsed[1]["operation"]?.stringValue == "convert --dtype f16")
        #expect(parsed[1]["files"]?.arrayValue?.first?["sha256"]?.stringValue == b.files[0].sha256)

        let show = try ckpt([
            "show", box.dir + "/b.safetensors", "--catalog", box.catalogPath, "--json",
        ])
        #expect(show.status == 0)
        #expect(try JSON.parse(show.stdout) == parsed[1])

        let lineage = try ckpt(["lineage", "\(b.id)", "--catalog", box.catalogPath])
        #expect(lineage.stdout.contains("a.safetensors"))
        #expect(lineage.stdout.contains("convert --dtype f16"))
    }

    @Test("rm forgets the entry and keeps the files; --delete-files deletes them")
    func rm() throws {
        let box = Sandbox()
        let catalog = try box.open()
        let a = try catalog.register(
            path: try box.write("a.safetensors", "aa"), source: FakeSource.dense())
        let b = try catalog.register(
            path: try box.write("b.safetensors", "bb"), source: FakeSource.dense())
        let r1 = try ckpt(["rm", "\(a.id)", "--catalog", box.catalogPath])
        #expect(r1.status == 0)
        #expect(FileManager.default.fileExists(atPath: box.dir + "/a.safetensors"))
        let r2 = try ckpt(["rm", "\(b.id)", "--delete-files", "--catalog", box.catalogPath])
        #expect(r2.status == 0)
        #expect(!FileManager.default.fileExists(atPath: box.dir + "/b.safetensors"))
        #expect(try catalog.list().isEmpty)
        let r3 = try ckpt(["rm", "\(b.id)", "--catalog", box.catalogPath])
        #expect(r3.status == 2)
        #expect(r3.stderr.hasPrefix("error:"))
    }

    @Test("a newer-schema catalog is an error naming the file, exit status 2")
    func newerSchema() throws {
        let box = Sandbox()
        _ = try box.open()
        _ = try Process.runCapturing(
            "/usr/bin/sqlite3", [box.catalogPath, "INSERT INTO grdb_migrations VALUES ('v9');"])
        let r = try ckpt(["list", "--catalog", box.catalogPath, "--json"])
        #expect(r.status == 2)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.hasPrefix("error: " + box.catalogPath))
        #expect(r.stderr.contains("v9"))
    }

    @Test("CKPT_CATALOG picks the database when --catalog is absent")
    func environmentLocation() throws {
        let box = Sandbox()
        var env = ProcessInfo.processInfo.environment
        env["CKPT_CATALOG"] = box.dir + "/env/c.sqlite"
        let r = try Process.runCapturing(
            productsDirectory + "/ckpt", ["list", "--json"], environment: env)
        #expect(r.status == 0)
        #expect(FileManager.default.fileExists(atPath: box.dir + "/env/c.sqlite"))
    }

    @Test("check exits 1 and names a modified file; dupes --json sums reclaimable bytes")
    func checkAndDupes() throws {
        let box = Sandbox()
        let catalog = try box.open()
        try catalog.register(
            path: try box.write("a.safetensors", "same"), source: FakeSource.dense())
        try catalog.register(
            path: try box.write("b.safetensors", "same"), source: FakeSource.dense())
        let d = try ckpt(["dupes", "--catalog", box.catalogPath, "--json"])
        #expect(d.status == 0)
        #expect(try JSON.parse(d.stdout)["reclaimable_bytes"]?.intValue == 4)
        try box.write("a.safetensors", "SAME")
        let c = try ckpt(["check", "--catalog", box.catalogPath, "--json"])
        #expect(c.status == 1)
        let reports = try #require(try JSON.parse(c.stdout).arrayValue)
        #expect(reports.map { $0["clean"]?.boolValue } == [false, true])
        #expect(reports[0]["files"]?.arrayValue?.first?["state"]?.stringValue == "modified")
    }
}

import ArgumentParser
import Catalog
import Formats

/// `ckpt dupes`: files with the same sha256 in different places, and the bytes to reclaim.
struct Dupes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List files with the same sha256 in different places.")

    @OptionGroup var catalog: CatalogOptions
    @Flag(help: "Print JSON on stdout.") var json = false

    func run() throws {
        let groups = try catalog.open().duplicates()
        let total = groups.reduce(Int64(0)) { $0 &+ $1.reclaimableBytes }
        if json {
            JSONOutput.print(
                .object([
                    "groups": .array(
                        groups.map { g in
                            .object([
                                "sha256": .string(g.sha256), "size_bytes": .int64(g.sizeBytes),
                                "paths": .array(g.paths.map(MetadataValue.string)),
                                "reclaimable_bytes": .int64(g.reclaimableBytes),
                            ])
                        }),
                    "reclaimable_bytes": .int64(total),
                ]))
            return
        }
        for g in groups {
            print(
                "\(g.sha256.prefix(12))  \(Terminal.bytes(Int(g.sizeBytes))) × \(g.distinctFiles)")
            for p in g.paths { print("  \(p)") }
        }
        print("reclaimable: \(Terminal.bytes(Int(total)))")
    }
}

import ArgumentParser
import Catalog

/// `ckpt show ID|PATH`: one entry, with its files and verifications.
struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one catalog entry.")

    @OptionGroup var catalog: CatalogOptions
    @Argument(help: "The entry's id or path.") var reference: String
    @Flag(help: "Print JSON on stdout.") var json = false

    func run() throws {
        let c = try catalog.open()
        let entry = try c.entry(id: c.resolve(reference))
        if json {
            JSONOutput.print(entry.json)
            return
        }
        print(EntryTable.detail(entry))
    }
}

import ArgumentParser
import Catalog

/// `ckpt add PATH`: register an existing checkpoint.
struct Add: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Register an existing checkpoint.")

    @OptionGroup var catalog: CatalogOptions
    @Argument(help: "A checkpoint file or model directory.") var path: String
    @Option(help: "The id or path of the checkpoint it was made from.") var parent: String?
    @Flag(help: "Print the entry as JSON on stdout.") var json = false

    func run() throws {
        let c = try catalog.open()
        var entry = try c.add(path: path, open: CheckpointAccess.open)
        if let parent {
            let pid = try c.resolve(parent)
            entry = try c.setParent(of: entry.id, to: pid)
        }
        if json { JSONOutput.print(entry.json) } else { print(EntryTable.render([entry])) }
    }
}

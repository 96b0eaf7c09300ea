import ArgumentParser
import Catalog
import Formats

/// `ckpt scan DIR`: register every checkpoint under DIR, hub cache snapshots included.
struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register every checkpoint under a directory (plain or Hugging Face cache).")

    @OptionGroup var catalog: CatalogOptions
    @Argument(help: "The directory to scan.") var directory: String
    @Flag(help: "Print the registered entries as JSON on stdout.") var json = false

    func run() throws {
        let report = try catalog.open().scan(
            directory: directory, open: CheckpointAccess.open, detect: CheckpointAccess.detect)
        for f in report.failures { Terminal.log("warning: not registered: \(f.error.description)") }
        if json {
            var o = Metadata()
            o["registered"] = .array(report.registered.map(\.json))
            o["failures"] = .array(
                report.failures.map { f in
                    .object(["path": .string(f.path), "error": .string(f.error.description)])
                })
            JSONOutput.print(.object(o))
        } else {
            print(EntryTable.render(report.registered))
            Terminal.log("\(report.registered.count) registered, \(report.failures.count) failed")
        }
    }
}

import ArgumentParser
import Catalog

/// `ckpt rm ID`: forget an entry; its files stay unless `--delete-files`.
struct Rm: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove an entry from the catalog (files stay unless --delete-files).")

    @OptionGroup var catalog: CatalogOptions
    @Argument(help: "The entry's id or path.") var reference: String
    @Flag(name: .customLong("delete-files"), help: "Also delete the checkpoint's files.")
    var deleteFiles = false

    func run() throws {
        let c = try catalog.open()
        let removal = try c.remove(id: c.resolve(reference), deleteFiles: deleteFiles)
        Terminal.log(
            "removed #\(removal.entry.id) \(removal.entry.checkpoint.path)"
                + (deleteFiles ? " and \(removal.deletedFiles.count) file(s)" : " (files kept)"))
    }
}

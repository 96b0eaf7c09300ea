import ArgumentParser
import Catalog
import Foundation

/// `--catalog PATH` and `--no-catalog`, shared by every command that reads or writes a
/// checkpoint (cli.md "Catalog").
struct CatalogOptions: ParsableArguments {
    @Option(
        name: .long,
        help:
            "The catalog database (default: $CKPT_CATALOG, else $XDG_DATA_HOME/ckpt/catalog.sqlite)."
    )
    var catalog: String?

    @Flag(name: .customLong("no-catalog"), help: "Do not read or write the catalog.")
    var noCatalog = false

    /// The resolved database path, or nil with `--no-catalog`.
    var path: String? {
        noCatalog
            ? nil
            : CatalogLocation.resolve(
                flag: catalog, environment: ProcessInfo.processInfo.environment)
    }

    /// Opens the catalog, for the commands that cannot work without one.
    func open() throws -> Catalog {
        if noCatalog { throw ValidationError("this command needs the catalog; drop --no-catalog") }
        guard let path else {
            throw ValidationError(
                "no catalog location: pass --catalog, or set CKPT_CATALOG or HOME")
        }
        return try Catalog(path: path)
    }
}

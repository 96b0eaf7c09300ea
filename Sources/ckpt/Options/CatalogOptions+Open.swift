import ArgumentParser
import Catalog
import Foundation

extension CatalogOptions {
    /// The resolved database path (cli.md: `--catalog`, `$CKPT_CATALOG`, XDG default), or
    /// nil with `--no-catalog`.
    var path: String? {
        noCatalog
            ? nil
            : CatalogLocation.resolve(
                flag: catalog, environment: ProcessInfo.processInfo.environment)
    }

    /// Opens the catalog, for the commands that cannot work without one.
    func open() throws -> Catalog {
        if noCatalog {
            throw ValidationError("this command needs the catalog; drop --no-catalog")
        }
        guard let path else {
            throw ValidationError(
                "no catalog location: pass --catalog, or set CKPT_CATALOG or HOME")
        }
        return try Catalog(path: path)
    }
}

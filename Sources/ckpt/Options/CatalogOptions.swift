import ArgumentParser

/// The catalog flags every command that reads or writes a checkpoint takes (cli.md "General").
struct CatalogOptions: ParsableArguments {
    @Option(name: .long, help: "Catalog database (default: $CKPT_CATALOG, else $XDG_DATA_HOME/ckpt/catalog.sqlite).")
    var catalog: String?

    @Flag(name: .customLong("no-catalog"), help: "Do not record anything in the catalog.")
    var noCatalog = false
}

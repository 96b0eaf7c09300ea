import ArgumentParser
import Catalog
import Formats

/// `ckpt list`: every checkpoint in the catalog, as a table or as cli.md's JSON array.
struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the checkpoints in the catalog.")

    @OptionGroup var catalog: CatalogOptions
    @Option(help: "Only this format (safetensors, gguf, mlx, ...).") var format: String?
    @Option(help: "Only this architecture (llama, bert, ...).") var architecture: String?
    @Flag(
        inversion: .prefixedNo,
        help: "Only quantized (or, with --no-quantized, unquantized) entries.")
    var quantized: Bool?
    @Option(name: .customLong("path-prefix"), help: "Only entries under this path.") var pathPrefix:
        String?
    @Option(help: "Sort by: \(ListFilter.Sort.allCases.map(\.rawValue).joined(separator: ", ")).")
    var sort: String = "id"
    @Flag(help: "Sort in decreasing order.") var reverse = false
    @Flag(help: "Print JSON on stdout.") var json = false

    func run() throws {
        guard let order = ListFilter.Sort(rawValue: sort) else {
            throw ValidationError("unknown sort key '\(sort)'")
        }
        let entries = try catalog.open().list(
            ListFilter(
                format: format, architecture: architecture, quantized: quantized,
                pathPrefix: pathPrefix, sort: order, descending: reverse))
        if json {
            JSONOutput.print(.array(entries.map(\.json)))
            return
        }
        print(EntryTable.render(entries))
    }
}

import ArgumentParser
import Catalog
import Formats

/// `ckpt lineage ID`: the chain of parents and the tree of children.
struct LineageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lineage",
        abstract: "Show the chain of parents and the children of an entry.")

    @OptionGroup var catalog: CatalogOptions
    @Argument(help: "The entry's id or path.") var reference: String
    @Flag(help: "Print JSON on stdout.") var json = false

    func run() throws {
        let c = try catalog.open()
        let lineage = try c.lineage(id: c.resolve(reference))
        guard json else {
            print(lineage.text)
            return
        }
        func node(_ n: Lineage.Node) -> MetadataValue {
            .object([
                "id": .int64(n.checkpoint.id ?? 0), "path": .string(n.checkpoint.path),
                "operation": n.checkpoint.operation.map(MetadataValue.string) ?? .null,
                "children": .array(n.children.map(node)),
            ])
        }
        JSONOutput.print(
            .object([
                "ancestors": .array(
                    lineage.ancestors.map { a in
                        .object([
                            "id": .int64(a.id ?? 0), "path": .string(a.path),
                            "operation": a.operation.map(MetadataValue.string) ?? .null,
                        ])
                    }),
                "entry": node(lineage.root),
            ]))
    }
}

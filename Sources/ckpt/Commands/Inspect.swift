import Archive
import ArgumentParser
import Catalog
import Convert
import Formats

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List a checkpoint's format, metadata and tensors.",
        discussion:
            "PATH is a safetensors, npy, npz, GGUF or PyTorch file, a Hugging Face / MLX model directory, or a .ckz archive of one."
    )

    @Argument(help: "A checkpoint file or model directory.")
    var path: String

    @Flag(help: "Print one JSON document on stdout.")
    var json = false

    @OptionGroup var catalog: CatalogOptions

    func run() throws {
        let inspection: Inspection
        var warning: String? = nil
        if Archive.isArchive(path) {
            // A .ckz archive: headers read out of the archive, nothing unpacked (not catalogued).
            inspection = Inspection(path: path, source: try Archive.openCheckpoint(path))
        } else {
            (inspection, warning) = try CatalogedOperations.inspect(path, catalogPath: catalog.path)
        }
        if let warning { Terminal.log("warning: \(warning)") }
        if json {
            print(inspection.json.jsonString())
        } else {
            print(InspectionTable.render(inspection))
        }
    }
}

import ArgumentParser
import Catalog
import Convert
import Formats

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List a checkpoint's format, metadata and tensors.",
        discussion: "PATH is a safetensors, npy, npz, GGUF or PyTorch file, or a Hugging Face / MLX model directory.")

    @Argument(help: "A checkpoint file or model directory.")
    var path: String

    @Flag(help: "Print one JSON document on stdout.")
    var json = false

    @OptionGroup var catalog: CatalogOptions

    func run() throws {
        let (inspection, warning) = try CatalogedOperations.inspect(path, catalogPath: catalog.path)
        if let warning { Terminal.log("warning: \(warning)") }
        if json {
            print(inspection.json.jsonString())
        } else {
            print(InspectionTable.render(inspection))
        }
    }
}

// A tiny writer for the catalog's concurrency test: registers each file given on the command
// line into the catalog, one transaction each, as a `ckpt convert` would register its output.
// Usage: catalog-writer CATALOG FILE...
import Catalog
import Foundation
import Formats

struct OneTensorSource: TensorSource {
    var format: CheckpointFormat { .safetensors }
    var metadata: Metadata { [:] }
    var tensors: [TensorInfo] {
        [TensorInfo(name: "w", type: .dense(.f32), shape: [2], byteCount: 8)]
    }
    func bytes(of tensor: TensorInfo) throws(FormatError) -> ByteSlice {
        throw FormatError(.unsupported("no data"))
    }
}

let args = CommandLine.arguments
guard args.count >= 3 else {
    FileHandle.standardError.write(Data("usage: catalog-writer CATALOG FILE...\n".utf8))
    exit(64)
}
do {
    let catalog = try Catalog(path: args[1])
    for file in args.dropFirst(2) {
        try catalog.register(path: file, source: OneTensorSource(), operation: "catalog-writer")
    }
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(2)
}

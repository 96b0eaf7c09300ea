import Catalog
import Foundation
import Formats

/// How the command line opens and recognises checkpoints for the catalog: the format
/// layer's readers, behind a name check (content sniffing alone would take any file whose
/// byte 8 is `{` or a space, such as a config.json, for safetensors).
enum CheckpointAccess {
    static let open: CheckpointOpener = { path in try Checkpoint.open(path) }

    static let detect: FormatDetector = { path in
        guard byName(path) != nil else { return nil }
        return try? Checkpoint.detectFormat(path)
    }
    /// The format a name suggests: a directory with `config.json` and weights, or a
    /// checkpoint file extension.
    static func byName(_ path: String) -> CheckpointFormat? {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return nil }
        if isDir.boolValue {
            guard FileManager.default.fileExists(atPath: path + "/config.json") else { return nil }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            let hasWeights = names.contains {
                $0.hasSuffix(".safetensors") || $0.hasSuffix(".bin") || $0.hasSuffix(".npz")
            }
            return hasWeights ? .hf : nil
        }
        switch (path as NSString).pathExtension.lowercased() {
        case "safetensors": return .safetensors
        case "gguf": return .gguf
        case "npz": return .npz
        case "npy": return .npy
        case "bin", "pt", "pth": return .pytorch
        default: return nil
        }
    }
}

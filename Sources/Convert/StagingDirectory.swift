import Foundation
import Formats

/// A directory output built under a temporary name beside its destination and renamed into
/// place when complete; removed if dropped before `commit()`.
final class StagingDirectory {
    let destination: String
    let path: String
    private var committed = false

    /// Files of a model directory copied unchanged next to the weights (tokenizer, configs,
    /// chat template, remote code), as mlx-lm's download allow-list has them.
    static func isSideFile(_ name: String) -> Bool {
        if name.hasSuffix(".safetensors") || name.hasSuffix(".bin") || name.hasSuffix(".pt")
            || name.hasSuffix(".pth") || name == "model.safetensors.index.json"
            || name == "pytorch_model.bin.index.json" || name.hasPrefix(".")
        {
            return false
        }
        let kept = [".json", ".py", ".txt", ".jsonl", ".jinja", ".tiktoken", ".model", ".md"]
        return kept.contains { name.hasSuffix($0) }
    }

    init(destination: String) throws(ConvertError) {
        self.destination = destination
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: destination, isDirectory: &isDir) {
            let empty = isDir.boolValue && ((try? fm.contentsOfDirectory(atPath: destination))?.isEmpty ?? false)
            guard empty else {
                throw ConvertError("destination exists; remove it or choose another", file: destination)
            }
        }
        // Split by hand: Foundation's deletingLastPathComponent traps on a one-character path.
        let trimmed = destination.count > 1 && destination.hasSuffix("/") ? String(destination.dropLast()) : destination
        let slash = trimmed.lastIndex(of: "/")
        let parent = slash.map { String(trimmed[..<$0]) } ?? ""
        let base = slash.map { String(trimmed[trimmed.index(after: $0)...]) } ?? trimmed
        path = (parent.isEmpty ? "." : parent) + "/.\(base).tmp-\(UUID().uuidString.prefix(8))"
        do {
            try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw ConvertError("cannot create directory: \(error.localizedDescription)", file: path)
        }
    }

    deinit {
        if !committed { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Copies the side files (config, tokenizer, templates) of a model directory.
    func copySideFiles(from source: String) throws(ConvertError) {
        let fm = FileManager.default
        let names = (try? fm.contentsOfDirectory(atPath: source)) ?? []
        for name in names.sorted() where Self.isSideFile(name) {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: source + "/" + name, isDirectory: &isDir), !isDir.boolValue else { continue }
            do {
                try fm.copyItem(atPath: source + "/" + name, toPath: path + "/" + name)
            } catch {
                throw ConvertError("cannot copy \(name): \(error.localizedDescription)", file: source)
            }
        }
    }

    /// Replaces the staged `config.json`.
    func writeConfig(_ config: Metadata) throws(ConvertError) {
        do {
            try ModelConfig.text(config).write(toFile: path + "/config.json", atomically: false, encoding: .utf8)
        } catch {
            throw ConvertError("cannot write config.json: \(error.localizedDescription)", file: path)
        }
    }

    /// Renames the finished directory into place; returns its files.
    func commit() throws(ConvertError) -> [String] {
        let fm = FileManager.default
        if fm.fileExists(atPath: destination) { try? fm.removeItem(atPath: destination) }  // empty dir, checked in init
        guard rename(path, destination) == 0 else {
            throw ConvertError("cannot rename \(path) into place: \(String(cString: strerror(errno)))", file: destination)
        }
        committed = true
        let names = (try? fm.contentsOfDirectory(atPath: destination)) ?? []
        return names.sorted().map { destination + "/" + $0 }
    }
}

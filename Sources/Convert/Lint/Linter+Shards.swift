import Formats
import Foundation

/// The weight files of a model directory: index entries against shard contents.
extension LintState {
    /// Checks `model.safetensors.index.json` (or `pytorch_model.bin.index.json`) against the
    /// shards it names, the shards against each other, and shards the index does not name.
    mutating func lintWeights() {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
        let safetensors = names.filter { $0.hasSuffix(".safetensors") }
        if let indexName = [ModelDirectory.indexName, ModelDirectory.torchIndexName].first(where: { names.contains($0) }) {
            lintIndexed(indexName, allSafetensors: indexName == ModelDirectory.indexName ? safetensors : [])
        } else if !safetensors.isEmpty {
            lintUnindexed(safetensors)
        } else if names.contains(ModelDirectory.torchSingleFileName) {
            lintUnindexed([ModelDirectory.torchSingleFileName])
        } else {
            add(.error, "no-weights", file: path, "no weights: no *.safetensors, pytorch_model.bin or index")
        }
    }

    /// Opens one weight file; an unreadable file is a finding and nil.
    mutating func openShard(_ name: String) -> (any TensorSource)? {
        let file = path + "/" + name
        do {
            let lower = name.lowercased()
            if lower.hasSuffix(".bin") || lower.hasSuffix(".pt") || lower.hasSuffix(".pth") {
                return try TorchCheckpoint(path: file)
            }
            return try SafetensorsFile(path: file)
        } catch {
            unreadable(error, file: file)
            return nil
        }
    }

    /// Shards found by listing the directory: a tensor in two of them is an error.
    mutating func lintUnindexed(_ files: [String]) {
        var holder: [String: String] = [:]
        for name in files {
            guard let shard = openShard(name) else { continue }
            for t in shard.tensors {
                if let first = holder[t.name] {
                    add(.error, "duplicate-tensor", file: path + "/" + name, tensor: t.name,
                        "also in \(first): loaders keep one of the two silently")
                } else {
                    holder[t.name] = name
                }
            }
            collect(shard, file: path + "/" + name)
        }
        if files.count > 1 {
            add(.warning, "no-index", file: path,
                "\(files.count) weight files and no \(ModelDirectory.indexName): transformers and mlx-lm expect one")
        }
    }

    /// Index entries against shard contents.
    mutating func lintIndexed(_ indexName: String, allSafetensors: [String]) {
        let indexPath = path + "/" + indexName
        guard let index = jsonObject(indexPath) else { return }
        guard let map = index["weight_map"]?.objectValue else {
            add(.error, "index", file: indexPath, "no weight_map object")
            return
        }
        var mappedTo: [String: String] = [:]
        var shardNames: [String] = []
        for (tensor, value) in map {
            guard let shard = value.stringValue, !shard.isEmpty, !shard.hasPrefix("/"),
                !shard.split(separator: "/").contains("..")
            else {
                add(.error, "index", file: indexPath, tensor: tensor, "weight_map entry is not a file name inside the directory")
                continue
            }
            mappedTo[tensor] = shard
            if !shardNames.contains(shard) { shardNames.append(shard) }
        }
        var holder: [String: String] = [:]
        var bytes = 0
        for shardName in shardNames.sorted() {
            let file = path + "/" + shardName
            guard FileManager.default.fileExists(atPath: file) else {
                let count = mappedTo.values.filter { $0 == shardName }.count
                add(.error, "missing-shard", file: file, "named by \(indexName) for \(count) tensor\(count == 1 ? "" : "s") but absent")
                continue
            }
            guard let shard = openShard(shardName) else { continue }
            for t in shard.tensors {
                bytes += t.byteCount
                if let first = holder[t.name] {
                    add(.error, "duplicate-tensor", file: file, tensor: t.name,
                        "also in \(first): loaders keep one of the two silently")
                    continue
                }
                holder[t.name] = shardName
                if let listed = mappedTo[t.name] {
                    if listed != shardName {
                        add(.error, "stale-index", file: indexPath, tensor: t.name,
                            "the index maps it to \(listed), but \(shardName) holds it")
                    }
                } else {
                    add(.error, "missing-index-entry", file: file, tensor: t.name,
                        "\(shardName) holds it but \(indexName) does not list it: loaders never read it")
                }
            }
            collect(shard, file: file)
        }
        for (tensor, shard) in mappedTo.sorted(by: { $0.key < $1.key }) where holder[tensor] == nil {
            if FileManager.default.fileExists(atPath: path + "/" + shard) {
                add(.error, "stale-index", file: indexPath, tensor: tensor, "the index maps it to \(shard), which does not hold it")
            }
        }
        for stray in allSafetensors where !shardNames.contains(stray) {
            add(.warning, "stray-shard", file: path + "/" + stray,
                "not named by \(indexName): loaders ignore it (a leftover of an earlier conversion?)")
        }
        if let declared = index["metadata"]?.objectValue?["total_size"]?.intValue,
            holder.count == mappedTo.count, declared != Int64(bytes)
        {
            add(.warning, "index-total-size", file: indexPath,
                "metadata.total_size is \(declared), the shards hold \(bytes) bytes of tensors")
        }
    }
}

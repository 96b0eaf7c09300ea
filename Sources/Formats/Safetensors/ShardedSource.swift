#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Several weight files read as one checkpoint: the shards named by a
/// `model.safetensors.index.json` (or `pytorch_model.bin.index.json`), or a plain list of
/// files. Shards are safetensors files, or PyTorch `.bin` files read by `TorchCheckpoint`.
///
/// The index is checked against the shards, both ways: a file it names that is missing, a
/// tensor it maps that is not in that shard, or a shard holding a tensor it does not map to
/// that shard is an error naming both sides; a name in two shards is an error naming both.
/// Tensors come in shard order (file names sorted), then file order; each tensor's
/// location is its shard's own, and the shard is found by name.
///
/// ```swift
/// let model = try ShardedSource(index: "llama/model.safetensors.index.json")
/// ```
public struct ShardedSource: TensorSource {
    /// Largest index file accepted; real ones are a few hundred KB (one line per tensor).
    public static let maxIndexBytes = 100_000_000

    /// Shard paths, in shard order.
    public let files: [String]
    public let shards: [any TensorSource]
    /// Shard index of every tensor name.
    private let shardOf: [String: Int]
    /// The first shard's `__metadata__` (shards written together carry the same).
    public let metadata: Metadata
    /// The index's own `metadata` object (`total_size`, `total_parameters`); empty without one.
    public let indexMetadata: Metadata
    public let tensors: [TensorInfo]

    public var format: CheckpointFormat { shards.first?.format ?? .safetensors }

    /// Opens one shard by its extension: `.bin`/`.pt`/`.pth` through the pickle-safe
    /// PyTorch reader, anything else as safetensors.
    static func openShard(_ path: String) throws(FormatError) -> any TensorSource {
        let lower = path.lowercased()
        if lower.hasSuffix(".bin") || lower.hasSuffix(".pt") || lower.hasSuffix(".pth") {
            return try TorchCheckpoint(path: path)
        }
        return try SafetensorsFile(path: path)
    }

    /// Opens the index at `path` and every shard it names (relative to its directory).
    /// - Throws: `FormatError` for a malformed or stale index, a missing or invalid shard,
    ///   or a tensor name held by two shards.
    public init(index path: String) throws(FormatError) {
        let buffer = try ByteBuffer(mapping: path)
        guard buffer.count <= Self.maxIndexBytes else {
            throw FormatError(
                .limitExceeded("index of \(buffer.count) bytes exceeds \(Self.maxIndexBytes)"),
                file: path, offset: 0)
        }
        let root = try JSON.parse(buffer.all, field: "index")
        let locator = JSONLocator(buffer.all.raw)
        guard case .object(let top) = root else {
            throw FormatError(
                .invalid("index is not a JSON object"), file: path, offset: 0, field: "index")
        }
        let topPlaces = locator.members(ofObjectAt: 0)
        guard let mapIndex = top.index(forKey: "weight_map"),
            case .object(let map) = top.values[mapIndex]
        else {
            throw FormatError(
                .invalid("missing or non-object weight_map"), file: path, offset: 0,
                field: "weight_map")
        }
        let mapAt = mapIndex < topPlaces.count ? topPlaces[mapIndex].value : 0
        let mapPlaces = locator.members(ofObjectAt: mapAt)
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."

        var shardNames: [String] = []
        var mapped: [String: (shard: String, offset: Int)] = [:]
        for (k, (name, value)) in map.enumerated() {
            let at = k < mapPlaces.count ? mapPlaces[k].value : mapAt
            guard let shard = value.stringValue else {
                throw FormatError(
                    .invalid("shard name must be a string, found \(value.jsonKind)"), file: path,
                    offset: at, field: "weight_map[\"\(name)\"]")
            }
            // A shard is a file beside the index: no absolute path, no way out of the folder.
            guard !shard.isEmpty, !shard.hasPrefix("/"),
                !shard.split(separator: "/").contains(where: { $0 == ".." })
            else {
                throw FormatError(
                    .invalid("shard \"\(shard)\" is not a file name inside the model directory"),
                    file: path, offset: at, field: "weight_map[\"\(name)\"]")
            }
            mapped[name] = (shard, at)
            shardNames.append(shard)
        }
        shardNames = Array(Set(shardNames)).sorted()
        var shards: [any TensorSource] = []
        for name in shardNames {
            let shardPath = dir + "/" + name
            guard access(shardPath, F_OK) == 0 else {
                let example = map.first { $0.value.stringValue == name }?.key ?? ""
                throw FormatError(
                    .invalid("index maps \"\(example)\" to \(name), which does not exist"),
                    file: path, offset: mapped[example]?.offset, field: "weight_map[\"\(example)\"]"
                )
            }
            shards.append(try Self.openShard(shardPath))
        }
        try self.init(
            shards: shards, names: shardNames, paths: shardNames.map { dir + "/" + $0 }, index: (path, mapped),
            indexMetadata: top["metadata"]?.objectValue ?? [:])
    }

    /// Reads `paths` (in this order) as one checkpoint, without an index.
    /// - Throws: `FormatError` for an invalid file or a tensor name in two files.
    public init(files paths: [String]) throws(FormatError) {
        var shards: [any TensorSource] = []
        for p in paths { shards.append(try Self.openShard(p)) }
        try self.init(shards: shards, names: paths, paths: paths, index: nil, indexMetadata: [:])
    }

    private init(
        shards: [any TensorSource], names: [String], paths: [String],
        index: (path: String, map: [String: (shard: String, offset: Int)])?, indexMetadata: Metadata
    ) throws(FormatError) {
        self.shards = shards
        self.indexMetadata = indexMetadata
        files = paths
        metadata = shards.first?.metadata ?? [:]
        var seen: [String: Int] = [:]
        var tensors: [TensorInfo] = []
        for (s, shard) in shards.enumerated() {
            let shardName = names[s]
            let shardPath = paths[s]
            for t in shard.tensors {
                if let other = seen[t.name] {
                    throw FormatError(
                        .invalid("tensor is in two shards: \(files[other]) and \(shardPath)"),
                        file: shardPath, offset: t.location.offset, field: t.name)
                }
                if let index {
                    guard let entry = index.map[t.name] else {
                        throw FormatError(
                            .invalid(
                                "stale index: \(shardPath) holds this tensor, \(index.path) does not list it"
                            ),
                            file: shardPath, offset: t.location.offset, field: t.name)
                    }
                    guard entry.shard == shardName else {
                        throw FormatError(
                            .invalid(
                                "tensor is in two shards: \(shardPath) holds it, \(index.path) maps it to \(entry.shard)"
                            ),
                            file: shardPath, offset: t.location.offset, field: t.name)
                    }
                }
                seen[t.name] = s
                tensors.append(t)
            }
        }
        if let index {
            for (name, entry) in index.map.sorted(by: { $0.value.offset < $1.value.offset })
            where seen[name] == nil {
                throw FormatError(
                    .invalid(
                        "stale index: maps this tensor to \(entry.shard), which does not hold it"),
                    file: index.path, offset: entry.offset, field: "weight_map[\"\(name)\"]")
            }
        }
        self.tensors = tensors
        shardOf = seen
    }

    /// The tensor's bytes: a slice of its shard's mapping.
    /// The index in `files` of the shard holding `name`.
    public func shard(of name: String) -> Int? { shardOf[name] }

    public func bytes(of tensor: TensorInfo) throws(FormatError) -> ByteSlice {
        guard let s = shardOf[tensor.name] else {
            throw FormatError(.invalid("no such tensor in this checkpoint"), field: tensor.name)
        }
        return try shards[s].bytes(of: tensor)
    }
}

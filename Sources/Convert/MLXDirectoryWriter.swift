import Formats

/// Writes an MLX model directory's weights as `mlx_lm.utils.save_model` does: shards by
/// `make_shards` (in plan order, a new shard when the next tensor would pass the limit, so
/// a tensor larger than the limit ends its own shard), named `model.safetensors` or
/// `model-00001-of-00003.safetensors`, each with `__metadata__` `{"format": "mlx"}`, and
/// always a `model.safetensors.index.json` (indent 4, `metadata` with `total_size` then
/// `total_parameters`, `weight_map` sorted by name, no trailing newline).
///
/// Why not `ShardedSafetensorsWriter`: huggingface_hub puts an oversized tensor in a shard
/// before the one being filled, writes the index only for several shards and counts
/// every element as a parameter, where mlx-lm counts a quantized weight's original elements
/// and leaves scales and biases out (`get_total_parameters`).
struct MLXDirectoryWriter: TensorSink {
    let directory: String
    let maxShardBytes: Int
    let totalParameters: Int
    private(set) var shardNames: [String] = []
    private var writers: [SafetensorsWriter] = []
    private var shardOf: [String: Int] = [:]
    private var index: MetadataValue?

    /// - Parameter totalParameters: the index's `metadata.total_parameters`, computed by the
    ///   caller (which knows which outputs are packed codes).
    init(directory: String, maxShardBytes: Int, totalParameters: Int) {
        self.directory = directory
        self.maxShardBytes = maxShardBytes
        self.totalParameters = totalParameters
    }

    /// `make_shards`: groups of plan indices.
    static func shards(of plan: [TensorInfo], maxShardBytes: Int) -> [[Int]] {
        var shards: [[Int]] = []
        var size = 0
        for (i, t) in plan.enumerated() {
            if shards.isEmpty || size + t.byteCount > maxShardBytes {
                shards.append([])
                size = 0
            }
            shards[shards.count - 1].append(i)
            size += t.byteCount
        }
        return shards.isEmpty ? [[]] : shards
    }

    mutating func begin(metadata: Metadata, plan: [TensorInfo]) throws(FormatError) {
        guard maxShardBytes > 0 else {
            throw FormatError(.invalid("maxShardBytes must be positive"), file: directory)
        }
        let groups = Self.shards(of: plan, maxShardBytes: maxShardBytes)
        shardNames = groups.indices.map {
            ShardedSafetensorsWriter.shardName($0, of: groups.count, baseName: "model")
        }
        var weightMap = Metadata()
        var totalSize = 0
        for (s, group) in groups.enumerated() {
            var writer = SafetensorsWriter(path: directory + "/" + shardNames[s])
            let part = group.map { plan[$0] }
            try writer.begin(metadata: metadata, plan: part)
            for t in part {
                shardOf[t.name] = s
                weightMap[t.name] = .string(shardNames[s])
                totalSize += t.byteCount
            }
            writers.append(writer)
        }
        weightMap.sort()
        index = .object([
            "metadata": .object([
                "total_size": .int64(Int64(totalSize)),
                "total_parameters": .int64(Int64(totalParameters)),
            ]),
            "weight_map": .object(weightMap),
        ])
    }

    mutating func write(_ tensor: TensorInfo, bytes: UnsafeRawBufferPointer) throws(FormatError) {
        guard let s = shardOf[tensor.name] else {
            throw FormatError(
                .invalid("tensor is not in the plan"), file: directory, field: tensor.name)
        }
        try writers[s].write(tensor, bytes: bytes)
    }

    mutating func region(for tensor: TensorInfo) throws(FormatError) -> OutputFile.Region? {
        guard let s = shardOf[tensor.name] else {
            throw FormatError(
                .invalid("tensor is not in the plan"), file: directory, field: tensor.name)
        }
        return try writers[s].region(for: tensor)
    }

    /// Commits every shard, then writes the index.
    mutating func commit() throws(FormatError) {
        for i in writers.indices { try writers[i].commit() }
        guard let index else { return }
        let out = try OutputFile(path: directory + "/model.safetensors.index.json")
        try out.write(index.jsonString(pretty: true, sortKeys: false, indentWidth: 4))
        try out.commit()
    }
}

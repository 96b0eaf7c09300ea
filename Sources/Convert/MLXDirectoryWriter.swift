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
    var shardNames: [String] { shards?.names ?? [] }
    private var shards: SafetensorsShardSet?
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
        precondition(shards == nil, "begin called twice")
        guard maxShardBytes > 0 else {
            throw FormatError(.invalid("maxShardBytes must be positive"), file: directory)
        }
        let set = try SafetensorsShardSet(
            directory: directory, groups: Self.shards(of: plan, maxShardBytes: maxShardBytes),
            plan: plan, metadata: metadata, baseName: "model")
        shards = set
        index = .object([
            "metadata": .object([
                "total_size": .int64(Int64(set.totalSize)),
                "total_parameters": .int64(Int64(totalParameters)),
            ]),
            "weight_map": .object(set.weightMap),
        ])
    }

    mutating func write(_ tensor: TensorInfo, bytes: UnsafeRawBufferPointer) throws(FormatError) {
        guard shards != nil else { preconditionFailure("write before begin") }
        try shards?.write(tensor, bytes: bytes)
    }

    mutating func region(for tensor: TensorInfo) throws(FormatError) -> OutputFile.Region? {
        guard shards != nil else { preconditionFailure("write before begin") }
        return try shards?.region(for: tensor)
    }

    /// Commits every shard, then writes the index.
    mutating func commit() throws(FormatError) {
        try shards?.commit()
        guard let index else { return }
        let out = try OutputFile(path: directory + "/model.safetensors.index.json")
        try out.write(index.jsonString(pretty: true, sortKeys: false, indentWidth: 4))
        try out.commit()
    }
}

/// The shards of a sharded safetensors output, once grouped: one `SafetensorsWriter` per
/// shard, each tensor routed to its own. What `ShardedSafetensorsWriter` (huggingface_hub's
/// grouping and index) and the MLX directory writer (mlx-lm's) share; each of them groups the
/// plan and writes the index its ecosystem expects.
public struct SafetensorsShardSet {
    public let directory: String
    /// Shard file names, relative to `directory`.
    public let names: [String]
    /// `weight_map` of the index: each tensor's shard file, sorted by tensor name.
    public let weightMap: Metadata
    /// Data bytes of all shards (headers excluded): the index's `total_size`.
    public let totalSize: Int
    private var writers: [SafetensorsWriter]
    private let shardOf: [String: Int]

    /// Begins one writer per group of plan indices (each with `metadata`), shard `i` named
    /// `ShardedSafetensorsWriter.shardName(i, of: groups.count, baseName:)`.
    /// - Throws: `FormatError` from a shard's `begin`.
    public init(
        directory: String, groups: [[Int]], plan: [TensorInfo], metadata: Metadata,
        baseName: String
    ) throws(FormatError) {
        self.directory = directory
        names = groups.indices.map {
            ShardedSafetensorsWriter.shardName($0, of: groups.count, baseName: baseName)
        }
        var weightMap = Metadata()
        var shardOf: [String: Int] = [:]
        var totalSize = 0
        var writers: [SafetensorsWriter] = []
        for (s, group) in groups.enumerated() {
            var writer = SafetensorsWriter(path: directory + "/" + names[s])
            let part = group.map { plan[$0] }
            try writer.begin(metadata: metadata, plan: part)
            for t in part {
                shardOf[t.name] = s
                weightMap[t.name] = .string(names[s])
                totalSize += t.byteCount
            }
            writers.append(writer)
        }
        weightMap.sort()
        self.weightMap = weightMap
        self.shardOf = shardOf
        self.totalSize = totalSize
        self.writers = writers
    }

    /// Writes a planned tensor into its shard.
    /// - Throws: `FormatError` for a tensor not in the plan, or as `SafetensorsWriter.write`.
    public mutating func write(_ tensor: TensorInfo, bytes: UnsafeRawBufferPointer)
        throws(FormatError)
    {
        try writers[shard(of: tensor)].write(tensor, bytes: bytes)
    }

    /// The tensor's range in its shard, for a caller that fills it in pieces.
    /// - Throws: as `write`.
    public mutating func region(for tensor: TensorInfo) throws(FormatError) -> OutputFile.Region? {
        try writers[shard(of: tensor)].region(for: tensor)
    }

    /// Commits every shard (the index, written by the caller, comes after).
    public mutating func commit() throws(FormatError) {
        for i in writers.indices { try writers[i].commit() }
    }

    private func shard(of tensor: TensorInfo) throws(FormatError) -> Int {
        guard let s = shardOf[tensor.name] else {
            throw FormatError(
                .invalid("tensor is not in the plan"), file: directory, field: tensor.name)
        }
        return s
    }
}

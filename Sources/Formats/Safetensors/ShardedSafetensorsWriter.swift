/// Writes a model's weights into a directory as Hugging Face does: one `model.safetensors`
/// when everything fits in one shard, else `model-00001-of-0000N.safetensors`... plus
/// `model.safetensors.index.json` (formats doc §1.9).
///
/// Shards are planned in `begin` with huggingface_hub's `split_state_dict_into_shards_factory`
/// rule, in plan order: a tensor larger than the limit gets a shard of its own; otherwise a
/// new shard starts when the current one would exceed the limit. Each shard is written by a
/// `SafetensorsWriter` (so it is byte-identical to the reference writer) with the same
/// metadata. The index is written like transformers' `save_pretrained`: `indent=2`, keys
/// sorted, a trailing newline, metadata `total_parameters` (elements) and `total_size`
/// (data bytes, no headers), and it is written last, only when every shard committed.
///
/// ```swift
/// var sink = ShardedSafetensorsWriter(directory: "out", maxShardBytes: 5_000_000_000)
/// ```
public struct ShardedSafetensorsWriter: TensorSink {
    /// transformers 4.x / huggingface_hub default `max_shard_size` "5GB" (decimal).
    public static let defaultMaxShardBytes = 5_000_000_000

    public let directory: String
    public let maxShardBytes: Int
    public let baseName: String
    /// Shard file names (relative to `directory`), once `begin` has run.
    public var shardNames: [String] { shards?.names ?? [] }
    private var shards: SafetensorsShardSet?
    private var index: MetadataValue?

    /// A writer into `directory` (which must exist). `baseName` "model" gives
    /// `model.safetensors` / `model-00001-of-00002.safetensors`.
    public init(
        directory: String, maxShardBytes: Int = defaultMaxShardBytes, baseName: String = "model"
    ) {
        self.directory = directory
        self.maxShardBytes = maxShardBytes
        self.baseName = baseName
    }

    /// Groups plan entries into shards (indices into `plan`), huggingface_hub's rule.
    public static func shards(of plan: [TensorInfo], maxShardBytes: Int) -> [[Int]] {
        var shards: [[Int]] = []
        var current: [Int] = []
        var size = 0
        for (i, t) in plan.enumerated() {
            if t.byteCount > maxShardBytes {
                shards.append([i])
                continue
            }
            if size + t.byteCount > maxShardBytes {
                shards.append(current)
                current = []
                size = 0
            }
            current.append(i)
            size += t.byteCount
        }
        if !current.isEmpty || shards.isEmpty { shards.append(current) }
        return shards
    }

    /// The file name of shard `i` (0-based) of `count`.
    public static func shardName(_ i: Int, of count: Int, baseName: String) -> String {
        guard count > 1 else { return baseName + ".safetensors" }
        func five(_ n: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, 5 - s.count)) + s
        }
        return "\(baseName)-\(five(i + 1))-of-\(five(count)).safetensors"
    }

    public mutating func begin(metadata: Metadata, plan: [TensorInfo]) throws(FormatError) {
        precondition(shards == nil, "begin called twice")
        guard maxShardBytes > 0 else {
            throw FormatError(.invalid("maxShardBytes must be positive"), file: directory)
        }
        let groups = Self.shards(of: plan, maxShardBytes: maxShardBytes)
        let set = try SafetensorsShardSet(
            directory: directory, groups: groups, plan: plan, metadata: metadata, baseName: baseName)
        shards = set
        if groups.count > 1 {
            let totalParameters = plan.reduce(0) { $0 + $1.elementCount }
            index = .object([
                "metadata": .object([
                    "total_parameters": .int64(Int64(totalParameters)),
                    "total_size": .int64(Int64(set.totalSize)),
                ]),
                "weight_map": .object(set.weightMap),
            ])
        }
    }

    public mutating func write(_ tensor: TensorInfo, bytes: UnsafeRawBufferPointer)
        throws(FormatError)
    {
        guard shards != nil else { preconditionFailure("write before begin") }
        try shards?.write(tensor, bytes: bytes)
    }

    /// The tensor's range in its shard, for a caller that fills it in pieces.
    /// - Throws: as `write`.
    public mutating func region(for tensor: TensorInfo) throws(FormatError) -> OutputFile.Region? {
        guard shards != nil else { preconditionFailure("write before begin") }
        return try shards?.region(for: tensor)
    }

    /// Commits every shard, then writes the index (atomically, like the shards).
    public mutating func commit() throws(FormatError) {
        try shards?.commit()
        guard let index else { return }
        let out = try OutputFile(path: directory + "/" + baseName + ".safetensors.index.json")
        try out.write(index.jsonString(pretty: true, sortKeys: true) + "\n")
        try out.commit()
    }
}

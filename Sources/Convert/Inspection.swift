import Formats

/// What `ckpt inspect` reports about a checkpoint: its format, metadata and tensors, with
/// totals. Built from headers only.
public struct Inspection: Sendable {
    public var path: String
    public var format: CheckpointFormat
    public var metadata: Metadata
    public var tensors: [TensorInfo]

    public init(path: String) throws(FormatError) {
        let source = try Checkpoint.open(path)
        self.init(path: path, source: source)
    }

    public init(path: String, source: any TensorSource) {
        self.path = path
        format = source.format
        metadata = source.metadata
        tensors = source.tensors
    }

    public var totalBytes: Int { tensors.reduce(0) { $0 + $1.byteCount } }

    /// Number of scalar parameters (elements), whatever their encoding.
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.elementCount } }

    /// Tensor count and bytes per type, largest share first.
    public var byType: [(type: TensorType, count: Int, bytes: Int)] {
        var acc: [TensorType: (Int, Int)] = [:]
        for t in tensors {
            let (c, b) = acc[t.type] ?? (0, 0)
            acc[t.type] = (c + 1, b + t.byteCount)
        }
        return acc.map { ($0.key, $0.value.0, $0.value.1) }.sorted { $0.bytes > $1.bytes }
    }

    /// The document of `ckpt inspect --json` (cli.md).
    public var json: MetadataValue {
        let list: [MetadataValue] = tensors.map { t in
            .object([
                "name": .string(t.name),
                "dtype": .string(t.type.description),
                "shape": .array(t.shape.map { .int64(Int64($0)) }),
            ])
        }
        return .object([
            "format": .string(format.rawValue),
            "metadata": .object(metadata),
            "tensors": .array(list),
        ])
    }
}

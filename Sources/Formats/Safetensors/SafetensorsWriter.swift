/// Writes one safetensors file, byte-identical to the reference writer
/// (`safetensors.numpy.save_file`, `safetensors.torch.save_file`) for the same tensors and
/// metadata (see `SafetensorsLayout`).
///
/// The whole layout is fixed in `begin` from the plan; each tensor's bytes then go straight
/// to their offset, so tensors may arrive in plan order although the file sorts them by
/// dtype, and nothing but one tensor is ever held. `commit` renames the finished file into
/// place; a writer dropped before that leaves nothing behind.
///
/// ```swift
/// var sink = SafetensorsWriter(path: "out.safetensors")
/// try sink.begin(metadata: ["format": .string("pt")], plan: source.tensors)
/// for t in source.tensors { try source.bytes(of: t).withBytes { try sink.write(t, bytes: $0) } }
/// try sink.commit()
/// ```
public struct SafetensorsWriter: TensorSink {
    /// Destination path.
    public let path: String
    /// The planned layout, once `begin` has run.
    public private(set) var layout: SafetensorsLayout?
    private var output: OutputFile?
    private var slots: [String: Int] = [:]
    private var written: [Bool] = []

    /// A writer to `path`; nothing is created until `begin`.
    public init(path: String) {
        self.path = path
    }

    /// Plans the file and writes its header to a temporary file beside `path`.
    /// - Throws: `FormatError` from `SafetensorsLayout` or from creating the file.
    public mutating func begin(metadata: Metadata, plan: [TensorInfo]) throws(FormatError) {
        precondition(output == nil, "begin called twice")
        let layout = try SafetensorsLayout(metadata: metadata, plan: plan, file: path)
        let output = try OutputFile(path: path)
        try output.preallocate(layout.fileSize)
        try output.write(layout.prefix)
        self.layout = layout
        self.output = output
        slots = Dictionary(uniqueKeysWithValues: layout.tensors.enumerated().map { ($1.name, $0) })
        written = Array(repeating: false, count: layout.tensors.count)
    }

    /// Writes the bytes of a planned tensor at its offset.
    /// - Throws: `FormatError` for a tensor not in the plan, written twice, or whose byte
    ///   count differs from the plan; `.io` when the write fails.
    public mutating func write(_ tensor: TensorInfo, bytes: UnsafeRawBufferPointer)
        throws(FormatError)
    {
        guard let output else { preconditionFailure("write before begin") }
        let planned = try claim(tensor, byteCount: bytes.count)
        try output.write(bytes, at: planned.location.offset)
    }

    /// The planned tensor's range of the file, for a caller that fills it in pieces.
    /// - Throws: as `write`.
    public mutating func region(for tensor: TensorInfo) throws(FormatError) -> OutputFile.Region? {
        guard let output else { preconditionFailure("write before begin") }
        let planned = try claim(tensor, byteCount: tensor.byteCount)
        return try output.region(at: planned.location.offset, count: planned.byteCount)
    }

    /// Checks `tensor` against the plan (known, not yet written, same type, shape and byte
    /// count), marks it written and returns its planned entry.
    private mutating func claim(_ tensor: TensorInfo, byteCount: Int) throws(FormatError)
        -> TensorInfo
    {
        guard let layout else { preconditionFailure("write before begin") }
        guard let slot = slots[tensor.name] else {
            throw FormatError(.invalid("tensor is not in the plan"), file: path, field: tensor.name)
        }
        let planned = layout.tensors[slot]
        guard !written[slot] else {
            throw FormatError(.invalid("tensor written twice"), file: path, field: tensor.name)
        }
        guard tensor.type == planned.type, tensor.shape == planned.shape else {
            throw FormatError(
                .invalid(
                    "\(tensor.type) \(tensor.shape) differs from the plan's \(planned.type) \(planned.shape)"
                ),
                file: path, field: tensor.name)
        }
        guard byteCount == planned.byteCount else {
            throw FormatError(
                .invalid("got \(byteCount) bytes, the plan has \(planned.byteCount)"), file: path,
                offset: planned.location.offset, field: tensor.name)
        }
        written[slot] = true
        return planned
    }

    /// Checks that every planned tensor was written, then renames the file into place.
    public mutating func commit() throws(FormatError) {
        guard let output, let layout else { preconditionFailure("commit before begin") }
        if let missing = written.firstIndex(of: false) {
            throw FormatError(
                .invalid("tensor was planned but never written"), file: path,
                field: layout.tensors[missing].name)
        }
        try output.commit()
        self.output = nil
    }
}

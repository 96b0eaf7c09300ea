/// A PyTorch checkpoint (`torch.save` of a state dict): the zip format (`.pt`, `.pth`,
/// `pytorch_model.bin`) or the legacy pre-1.6 format, read without executing any pickle code.
///
/// The pickle runs in `PickleMachine`, which builds data only: a global outside torch's
/// `weights_only` allow-list is a `forbiddenGlobal` error at the opcode naming it. Tensor
/// names are the state dict's keys, nested dicts (and lists) joined with `.`
/// (`{"model": {"w": t}}` → `model.w`, cli.md "Names"); values that are not tensors (step
/// counters, strings, module `_metadata`) are ignored. A tensor is a view of a storage
/// (offset, size, stride in elements), each checked against the storage's bytes when the
/// file is opened: a contiguous one is handed out as a slice of the mapped file, a strided
/// one (a transposed weight) keeps its strides in `TensorInfo.Location.strides` and
/// `bytes(of:)` gathers it into a row-major copy.
///
/// ```swift
/// let ckpt = try TorchCheckpoint(path: "pytorch_model.bin")
/// for t in ckpt.tensors { print(t.name, t.type, t.shape) }
/// let w = try ckpt.bytes(of: ckpt.tensors[0])
/// ```
public struct TorchCheckpoint: TensorSource {
    /// Always `.pytorch`, for both layouts.
    public var format: CheckpointFormat { .pytorch }
    /// `pytorch.layout` (`zip` or `legacy`); state dicts carry no other metadata ckpt reports.
    public let metadata: Metadata
    /// In the pickle's order (the state dict's insertion order); shapes row-major.
    public let tensors: [TensorInfo]
    /// The file or label errors name.
    public let name: String
    /// The bytes of each storage; `TensorInfo.Location.file` indexes this.
    let storages: [ByteSlice]

    /// The two on-disk layouts (formats doc §3.1).
    enum Layout: String { case zip, legacy }

    /// What a layout reader hands over: the unpickled root, the arena it lives in, and the
    /// bytes of every storage the pickle named, by key.
    struct Loaded {
        var machine: PickleMachine
        var root: PickleValue
        var storageData: [String: ByteSlice]
    }

    /// Opens (memory-maps) the checkpoint at `path`.
    /// - Throws: `FormatError` naming the file, offset and field of anything malformed,
    ///   hostile (`forbiddenGlobal`) or unsupported (TorchScript archives, big-endian data).
    public init(path: String) throws(FormatError) {
        try self.init(buffer: try ByteBuffer(mapping: path), name: path)
    }

    /// Reads a checkpoint held in memory (tests, fuzzers, archive members).
    /// - Parameters:
    ///   - buffer: the whole file.
    ///   - name: the name errors use; `buffer.name` by default.
    public init(buffer: ByteBuffer, name: String? = nil) throws(FormatError) {
        let label = name ?? buffer.name
        do {
            try self.init(reading: buffer, label: label)
        } catch {
            var e = error
            if e.file == nil || e.file == buffer.name { e.file = label }
            throw e
        }
    }

    private init(reading buffer: ByteBuffer, label: String) throws(FormatError) {
        self.name = label
        let all = buffer.all
        let layout: Layout
        let loaded: Loaded
        if all.count >= 4, all[0] == 0x50, all[1] == 0x4B, all[2] == 0x03, all[3] == 0x04 {
            layout = .zip
            loaded = try Self.loadZip(buffer)
        } else if all.count >= 2, all[0] == PickleOpcode.proto.rawValue {
            layout = .legacy
            loaded = try Self.loadLegacy(all)
        } else if all.count >= 262, (257..<262).map({ all[$0] }) == Array("ustar".utf8) {
            throw FormatError(
                .unsupported("the pre-1.0 tar checkpoint format"), file: label, offset: 257,
                field: "tar magic")
        } else {
            throw FormatError(
                .invalid("not a PyTorch checkpoint (neither a zip archive nor a legacy pickle)"),
                file: label, offset: 0, field: "magic")
        }
        metadata = ["pytorch.layout": .string(layout.rawValue)]
        let named = try Self.flatten(loaded.root, loaded.machine.arena, file: label)
        var storageIndex: [String: Int] = [:]
        var storages: [ByteSlice] = []
        var infos: [TensorInfo] = []
        for (tensorName, t) in named {
            let error = { (m: String) in
                FormatError(
                    .unsupported(m), file: label, offset: t.builtAt, field: "tensor '\(tensorName)'"
                )
            }
            guard let dtype = t.scalar.dtype, let elementSize = dtype.byteSize else {
                throw error("dtype \(t.scalar.torchName) has no ckpt dtype")
            }
            guard let data = loaded.storageData[t.storage.key] else {
                throw FormatError(
                    .invalid("storage '\(t.storage.key)' has no data"), file: label,
                    offset: t.builtAt,
                    field: "tensor '\(tensorName)'")
            }
            let index: Int
            if let i = storageIndex[t.storage.key] {
                index = i
            } else {
                index = storages.count
                storageIndex[t.storage.key] = index
                storages.append(data)
            }
            // A non-empty view was bounds-checked against its storage when it was rebuilt, and
            // the storage's bytes against its record, so this cannot overflow. An empty view
            // reads nothing; its storage offset (unchecked, as in torch) is not used.
            let empty = t.shape.contains(0)
            let offset = empty ? t.storage.start : t.storage.start + t.storageOffset * elementSize
            let strides =
                TorchLayout.isContiguous(shape: t.shape, strides: t.strides) ? nil : t.strides
            guard
                let info = TensorInfo(
                    name: tensorName, type: .dense(dtype), shape: t.shape,
                    location: .init(file: index, offset: offset, strides: strides))
            else { throw error("tensor byte size overflows") }
            infos.append(info)
        }
        self.storages = storages
        self.tensors = infos
    }

    /// The tensor's bytes, dense, row-major, little-endian: a slice of the file for a
    /// contiguous tensor, a gathered copy for a strided view.
    /// - Throws: `FormatError` when `tensor` does not describe bytes of this checkpoint.
    public func bytes(of tensor: TensorInfo) throws(FormatError) -> ByteSlice {
        let field = "tensor '\(tensor.name)'"
        guard storages.indices.contains(tensor.location.file) else {
            throw FormatError(
                .invalid("no storage \(tensor.location.file)"), file: name, field: field)
        }
        let data = storages[tensor.location.file]
        guard let dtype = tensor.type.dense, let elementSize = dtype.byteSize,
            dtype.byteCount(elements: tensor.elementCount) == tensor.byteCount,
            tensor.shape.checkedElementCount != nil
        else {
            throw FormatError(
                .invalid("type and byte count do not match"), file: name, field: field)
        }
        guard let strides = tensor.location.strides else {
            return try data.slice(tensor.location.offset, tensor.byteCount, field: field)
        }
        return try TorchLayout.gather(
            data, offset: tensor.location.offset, shape: tensor.shape, strides: strides,
            elementSize: elementSize, field: field)
    }
}

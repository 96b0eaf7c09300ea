/// The file formats ckpt reads (cli.md "Formats").
public enum CheckpointFormat: String, Sendable, Hashable, CaseIterable, Codable {
    case safetensors, npz, npy, gguf, pytorch, hf, mlx
}

/// A readable checkpoint: a file or directory whose header has been fully validated when it
/// was opened. After that, reading a tensor is a slice of the mapped file.
public protocol TensorSource: Sendable {
    var format: CheckpointFormat { get }
    /// safetensors `__metadata__`, GGUF key/values, `config.json` for directories.
    var metadata: Metadata { get }
    /// In file order (directories: shard order, then file order); shapes row-major.
    var tensors: [TensorInfo] { get }
    /// The tensor's bytes, dense, row-major and little-endian, in `tensor.type`'s encoding.
    /// A slice of the mapped file whenever the file stores it that way (safetensors, GGUF,
    /// C-order little-endian npy, stored npz members, contiguous PyTorch storages); otherwise
    /// (strided views, big-endian or Fortran npy, deflated members) a buffer made for it.
    func bytes(of tensor: TensorInfo) throws(FormatError) -> ByteSlice
}

extension TensorSource {
    /// The tensor named `name`, if present.
    public func tensor(named name: String) -> TensorInfo? {
        tensors.first { $0.name == name }
    }

    public var totalBytes: Int { tensors.reduce(0) { $0 + $1.byteCount } }
}

/// Receives a checkpoint tensor by tensor. It gets the whole plan first (GGUF and
/// safetensors put every offset in the header), then each tensor's bytes in plan order, then
/// `commit` renames the finished file into place. A sink dropped without `commit` removes its
/// temporary file: an error never leaves a partial output behind.
public protocol TensorSink {
    mutating func begin(metadata: Metadata, plan: [TensorInfo]) throws(FormatError)
    /// `bytes` is the tensor's dense row-major little-endian encoding; it must have
    /// exactly `tensor.byteCount` bytes.
    mutating func write(_ tensor: TensorInfo, bytes: UnsafeRawBufferPointer) throws(FormatError)
    mutating func commit() throws(FormatError)
}

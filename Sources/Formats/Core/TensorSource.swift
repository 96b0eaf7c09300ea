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
    /// Where `tensor`'s bytes go in the output, for a caller that writes them in pieces (from
    /// several threads, in any order) instead of through `write`; nil when this sink cannot
    /// take them so (the caller then uses `write`). Checked as `write` checks; a returned
    /// region counts as the tensor written, and the caller must fill all of it before the
    /// next call to the sink.
    mutating func region(for tensor: TensorInfo) throws(FormatError) -> OutputFile.Region?
    mutating func commit() throws(FormatError)
}

extension TensorSink {
    /// No region: the tensor goes through `write`.
    public mutating func region(for tensor: TensorInfo) throws(FormatError) -> OutputFile.Region? { nil }
}

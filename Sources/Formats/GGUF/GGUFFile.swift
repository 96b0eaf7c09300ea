/// A GGUF file (version 2 or 3, little- or big-endian), opened and fully validated.
///
/// Opening reads the header, every key/value and every tensor info, and applies ggml's
/// checks in ggml's order (formats-gguf.md §1.7): so a file that opens here is one that
/// llama.cpp's loader accepts structurally, and a hostile file fails with the byte offset
/// and field at fault. Nested arrays, which gguf-py writes and ggml refuses, are accepted.
/// Tensor bytes are not copied: `bytes(of:)` is a slice of the memory map (except for the
/// dense tensors of big-endian files, below).
///
/// Big-endian files (formats-gguf.md §1.6: gguf-py's `GGUFEndian.BIG`, `--bigendian`) are read
/// as gguf-py's reader reads them: detected from the version, every field byte-swapped, and
/// every check the same. Their dense tensors (F32, F16, BF16, F64, I8…I64) are marked
/// `location.bigEndian`, and `bytes(of:)` returns a little-endian copy of those. Quantized
/// blocks are passed through unchanged, as gguf-py's big-endian writer leaves them (it
/// byte-swaps numpy arrays element-wise, and blocks are `uint8` arrays): their fp16 scales
/// stay little-endian. Files whose blocks were swapped by gguf-py's
/// `gguf_convert_endian.py` (fp16 fields inside Q4_0, Q8_0, Q4_K and Q6_K blocks
/// big-endian) therefore decode wrongly here; nothing in such a file tells the two apart.
/// Likewise BF16 tensors that gguf-py's writer received as `uint8` (its `quants.quantize`
/// output) were not swapped by it and read back here byte-swapped.
///
/// ```swift
/// let file = try GGUFFile(path: "model.gguf")
/// let arch = file.metadata["general.architecture"]?.stringValue
/// for t in file.tensors { print(t.name, t.type, t.shape) }   // shapes row-major
/// ```
public struct GGUFFile: TensorSource {
    /// Always `.gguf`.
    public var format: CheckpointFormat { .gguf }
    /// The key/values in file order, with GGUF's exact value types.
    public let metadata: Metadata
    /// The tensors in file order; shapes row-major (`ne` reversed).
    public let tensors: [TensorInfo]
    /// The format version read (2 or 3).
    public let version: UInt32
    /// Whether the file is big-endian (its version field reads byte-swapped); every
    /// metadata value and tensor info has been read in that order.
    public let isBigEndian: Bool
    /// Alignment of the data section and of each tensor (`general.alignment`, or 32).
    public let alignment: Int
    /// Absolute offset of the data section; tensor offsets in the file are relative to it.
    public let dataOffset: Int
    /// The mapped (or in-memory) file.
    public let buffer: ByteBuffer

    /// Maps and validates the file at `path`.
    /// - Throws: `FormatError` naming the file, offset and field of the first problem.
    public init(path: String) throws(FormatError) {
        try self.init(buffer: ByteBuffer(mapping: path))
    }

    /// Validates an in-memory GGUF file (tests, fuzzers, archive members).
    /// - Throws: `FormatError` naming `buffer.name`, the offset and field of the first problem.
    public init(buffer: ByteBuffer) throws(FormatError) {
        var parser = GGUFHeaderParser(buffer)
        let header = try parser.parse()
        self.buffer = buffer
        version = header.version
        isBigEndian = header.isBigEndian
        metadata = header.metadata
        alignment = header.alignment
        dataOffset = header.dataOffset
        tensors = header.tensors
    }

    /// The tensor's bytes: a slice of the map in the file's encoding (ggml blocks for
    /// quantized types, little-endian elements otherwise), or, for the dense tensors of a
    /// big-endian file (`location.bigEndian`), a byte-swapped little-endian copy.
    /// - Throws: `FormatError` when `tensor` does not lie within this file (a `TensorInfo`
    ///   from another source).
    public func bytes(of tensor: TensorInfo) throws(FormatError) -> ByteSlice {
        let field = "tensor '\(tensor.name)' data"
        let data = try buffer.all.slice(tensor.location.offset, tensor.byteCount, field: field)
        guard tensor.location.bigEndian, let size = tensor.type.dense?.byteSize, size > 1 else {
            return data
        }
        guard tensor.byteCount % size == 0 else {
            throw FormatError(
                .invalid("\(tensor.byteCount) bytes are not whole \(size)-byte elements"),
                file: buffer.name, offset: tensor.location.offset, field: field)
        }
        return try StridedCopy.materialize(
            data, shape: tensor.shape, itemSize: size, strides: nil, swap: size,
            name: "\(buffer.name):\(tensor.name)")
    }
}

/// A GGUF file (version 2 or 3, little-endian), opened and fully validated.
///
/// Opening reads the header, every key/value and every tensor info, and applies ggml's
/// checks in ggml's order (formats-gguf.md §1.7): so a file that opens here is one that
/// llama.cpp's loader accepts structurally, and a hostile file fails with the byte offset
/// and field at fault. Nested arrays, which gguf-py writes and ggml refuses, are accepted.
/// Tensor bytes are never copied: `bytes(of:)` is a slice of the memory map.
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
        metadata = header.metadata
        alignment = header.alignment
        dataOffset = header.dataOffset
        tensors = header.tensors
    }

    /// The tensor's bytes: a slice of the map, in the file's encoding (ggml blocks for
    /// quantized types, little-endian elements otherwise).
    /// - Throws: `FormatError` when `tensor` does not lie within this file (a `TensorInfo`
    ///   from another source).
    public func bytes(of tensor: TensorInfo) throws(FormatError) -> ByteSlice {
        try buffer.all.slice(
            tensor.location.offset, tensor.byteCount, field: "tensor '\(tensor.name)' data")
    }
}

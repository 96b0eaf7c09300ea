/// One `.npy` array as a `TensorSource` (formats doc §2.1, §2.2).
///
/// The header is parsed strictly when the file is opened. C-order little-endian data is
/// returned as a slice of the mapping; big-endian or Fortran-order data is described by
/// `TensorInfo.location` (`bigEndian`, `strides`) and `bytes(of:)` returns a materialized
/// row-major little-endian copy.
///
/// The tensor of a lone `.npy` file is named after the file: its base name without the
/// `.npy` extension (`/tmp/w.npy` → `w`), which is also the key `np.savez` would give it.
///
/// ```swift
/// let npy = try NPYFile(path: "embedding.npy")
/// let t = npy.tensors[0]                  // name "embedding"
/// let bytes = try npy.bytes(of: t)        // no copy for '<f4' C-order data
/// ```
public struct NPYFile: TensorSource {
    public var format: CheckpointFormat { .npy }
    /// npy carries no metadata.
    public var metadata: Metadata { [:] }
    /// The single array.
    public let tensors: [TensorInfo]
    public let header: NPYHeader
    /// The npy's bytes (a whole file, or a zip member).
    public let bytes: ByteSlice

    /// Maps `path`; the tensor is named after the file's base name without `.npy`.
    public init(path: String) throws(FormatError) {
        let base = path.split(separator: "/").last.map(String.init) ?? path
        let name = base.hasSuffix(".npy") ? String(base.dropLast(4)) : base
        try self.init(buffer: ByteBuffer(mapping: path), name: name)
    }

    /// Reads an npy held in memory (tests, fuzzers) or mapped by the caller.
    public init(buffer: ByteBuffer, name: String) throws(FormatError) {
        try self.init(slice: buffer.all, name: name)
    }

    /// Reads an npy that is part of a larger buffer (a stored npz member).
    public init(slice: ByteSlice, name: String) throws(FormatError) {
        let prefix = try slice.slice(0, min(slice.count, NPYHeader.maxPrefixLength))
        let header = try NPYHeader.parse(prefix, total: slice.count)
        try self.init(slice: slice, header: header, name: name)
    }

    /// An npy whose header was already parsed (npz members parse it from a prefix).
    init(slice: ByteSlice, header: NPYHeader, name: String) throws(FormatError) {
        self.bytes = slice
        self.header = header
        self.tensors = [try Self.tensorInfo(header, name: name, file: 0)]
    }

    /// The tensor a header describes; `file` is the member index inside an npz.
    static func tensorInfo(_ h: NPYHeader, name: String, file: Int) throws(FormatError)
        -> TensorInfo
    {
        let strides = h.fortranOrder ? StridedCopy.fortranStrides(h.shape) : nil
        let location = TensorInfo.Location(
            file: file, offset: h.dataOffset, strides: strides, bigEndian: h.descr.bigEndian)
        return TensorInfo(
            name: name, type: .dense(h.descr.dtype), shape: h.shape, byteCount: h.byteCount,
            location: location)
    }

    /// The array as dense row-major little-endian bytes: a slice of `bytes` when stored
    /// that way, else a new buffer.
    ///
    /// - Throws: `.invalid` when `tensor` is not this file's tensor.
    public func bytes(of tensor: TensorInfo) throws(FormatError) -> ByteSlice {
        guard let info = tensors.first, tensor.name == info.name else {
            throw FormatError(.invalid("no tensor named '\(tensor.name)'"), file: bytes.name)
        }
        let data = try bytes.slice(header.dataOffset, header.byteCount, field: "data")
        return try Self.dense(data, info: info, name: "\(bytes.name):\(info.name)")
    }

    /// `data` as stored, or its row-major little-endian copy when `info` says otherwise.
    static func dense(_ data: ByteSlice, info: TensorInfo, name: String) throws(FormatError)
        -> ByteSlice
    {
        let loc = info.location
        guard loc.bigEndian || loc.strides != nil else { return data }
        guard let dtype = info.type.dense, let size = dtype.byteSize else { return data }
        let swap = loc.bigEndian ? (dtype == .c64 ? 4 : size) : 0
        return try StridedCopy.materialize(
            data, shape: info.shape, itemSize: size, strides: loc.strides, swap: swap, name: name)
    }
}

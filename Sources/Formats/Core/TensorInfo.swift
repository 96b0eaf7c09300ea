/// One tensor of a checkpoint: what it is, and where its bytes are.
public struct TensorInfo: Sendable, Hashable {
    public var name: String
    public var type: TensorType
    /// Row-major (numpy order) in every format; GGUF's `ne` is reversed on read.
    public var shape: [Int]
    /// Size of the tensor's dense row-major encoding in bytes.
    public var byteCount: Int
    /// Where the bytes are, in the terms of the source that listed it. Opaque to callers.
    public var location: Location

    public init(name: String, type: TensorType, shape: [Int], byteCount: Int, location: Location = .init()) {
        self.name = name
        self.type = type
        self.shape = shape
        self.byteCount = byteCount
        self.location = location
    }

    /// Builds an entry whose byte count follows from type and shape; nil when that overflows
    /// or the shape does not fit the type's blocks.
    public init?(name: String, type: TensorType, shape: [Int], location: Location = .init()) {
        guard let n = type.byteCount(shape: shape) else { return nil }
        self.init(name: name, type: type, shape: shape, byteCount: n, location: location)
    }

    public var elementCount: Int { shape.checkedElementCount ?? 0 }

    /// Where a source keeps a tensor's bytes.
    public struct Location: Sendable, Hashable {
        /// Which file of a multi-file source (shard index, zip member index).
        public var file: Int
        /// Byte offset within that file (or member).
        public var offset: Int
        /// Element strides when the stored layout is not dense row-major (PyTorch views,
        /// Fortran-order npy); nil for dense row-major.
        public var strides: [Int]?
        /// Bytes of each element are stored big-endian (npy `>f4`).
        public var bigEndian: Bool

        public init(file: Int = 0, offset: Int = 0, strides: [Int]? = nil, bigEndian: Bool = false) {
            self.file = file
            self.offset = offset
            self.strides = strides
            self.bigEndian = bigEndian
        }
    }
}

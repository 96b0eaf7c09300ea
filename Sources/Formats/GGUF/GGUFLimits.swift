/// The constants of the GGUF container and the caps ckpt applies to untrusted GGUF headers.
///
/// Where ggml has a limit, the cap is ggml's (so that ckpt accepts exactly what llama.cpp
/// loads); the other caps bound the memory a hostile header can make the reader allocate.
/// Sources: ggml `src/gguf.cpp`, `include/ggml.h` (formats-gguf.md §1.7).
public enum GGUFLimits {
    /// "GGUF" as stored in the first four bytes.
    public static let magic: [UInt8] = [0x47, 0x47, 0x55, 0x46]
    /// The version ckpt writes; it reads 2 and 3 (structurally identical, §1.5).
    public static let currentVersion: UInt32 = 3
    /// Alignment of the data section and of every tensor when `general.alignment` is absent
    /// (GGUF_DEFAULT_ALIGNMENT).
    public static let defaultAlignment = 32
    /// The metadata key that overrides the alignment; it must be a UINT32 power of two.
    public static let alignmentKey = "general.alignment"

    /// Longest string (key, value or tensor name), in bytes: GGUF_MAX_STRING_LENGTH = 1 GiB.
    public static let maxStringLength = 1 << 30
    /// Most elements in one array: GGUF_MAX_ARRAY_ELEMENTS = 1024³.
    public static let maxArrayElements = 1 << 30
    /// Most array elements in all metadata together. ckpt's own cap (ggml has none): each
    /// element becomes a `MetadataValue`, so this bounds the reader's memory. The largest real
    /// vocabularies (≈ 260 000 tokens, three parallel arrays plus merges) stay far below.
    public static let maxTotalArrayElements = 1 << 25
    /// Deepest array nesting (an array is depth 1, an array of arrays depth 2). ggml's reader
    /// rejects any nesting; gguf-py reads and writes it; ckpt accepts this much.
    public static let maxArrayDepth = 8
    /// Tensor names must be shorter than GGML_MAX_NAME = 64 bytes (at most 63).
    public static let maxTensorNameLength = 63
    /// Most dimensions of a tensor: GGML_MAX_DIMS.
    public static let maxDimensions = 4

    /// The smallest possible key/value pair: u64 key length, a 1-byte key (empty keys are
    /// invalid), i32 value type, a 1-byte value. Bounds `kv_count` by the bytes left.
    static let minimumKeyValueSize = 8 + 1 + 4 + 1
    /// The smallest possible tensor info: u64 name length, u32 n_dims, i32 type, u64 offset.
    static let minimumTensorInfoSize = 8 + 4 + 4 + 8

    /// `n` rounded up to a multiple of `alignment` (a power of two), nil on overflow.
    static func padded(_ n: Int, to alignment: Int) -> Int? {
        let (sum, overflow) = n.addingReportingOverflow(alignment - 1)
        return overflow ? nil : sum & ~(alignment - 1)
    }
}

extension MetadataValueType {
    /// Bytes the smallest value of this type takes in a GGUF file: the fixed size for
    /// scalars, the u64 length for strings, the element type and count for arrays. Used to
    /// bound an array's count by the bytes left before anything is allocated.
    var minimumEncodedSize: Int {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string: 8
        case .array: 4 + 8
        }
    }

    /// The gguf-py / ggml name (`UINT32`), for error messages.
    var ggufName: String {
        switch self {
        case .uint8: "UINT8"
        case .int8: "INT8"
        case .uint16: "UINT16"
        case .int16: "INT16"
        case .uint32: "UINT32"
        case .int32: "INT32"
        case .float32: "FLOAT32"
        case .bool: "BOOL"
        case .string: "STRING"
        case .array: "ARRAY"
        case .uint64: "UINT64"
        case .int64: "INT64"
        case .float64: "FLOAT64"
        }
    }
}

/// An npy `descr` string (formats doc §2.2): byte order (`<`, `>`, `|`, `=`), kind and
/// item size, mapped to a ckpt `DType`.
///
/// `V2` (a 2-byte void) is read as BF16: numpy has no bfloat16, and both MLX (`mx.save`) and
/// `ml_dtypes.bfloat16` arrays saved by numpy produce `'<V2'` (numpy reads it back as `'|V2'`);
/// `mx.load` maps it to bfloat16 the same way (doc §2.2, §2.4). Other voids, strings, objects,
/// datetimes, complex128 and longdouble have no ckpt dtype and are refused as unsupported.
public struct NPYDescr: Sendable, Hashable {
    public var dtype: DType
    /// The stored bytes of each element are big-endian (only meaningful for itemsize > 1).
    public var bigEndian: Bool

    public init(dtype: DType, bigEndian: Bool = false) {
        self.dtype = dtype
        self.bigEndian = bigEndian
    }

    /// Parses `descr`; nil when it is not a numeric type ckpt knows (caller reports it).
    public init?(_ descr: String) {
        let chars = Array(descr.utf8)
        guard chars.count >= 3 else { return nil }
        let order = chars[0]
        let body = String(decoding: chars[1...], as: UTF8.self)
        guard let dtype = Self.kinds[body] else { return nil }
        switch order {
        case UInt8(ascii: "<"), UInt8(ascii: "|"), UInt8(ascii: "="):
            // `|` (not applicable) and `=` (native) mean host order; ckpt runs on
            // little-endian hosts only (x86-64, arm64).
            bigEndian = false
        case UInt8(ascii: ">"):
            bigEndian = (dtype.byteSize ?? 1) > 1
        default: return nil
        }
        self.dtype = dtype
    }

    /// The descr numpy writes for this type on a little-endian host (`<f4`, `|b1`);
    /// nil for types numpy cannot represent (BF16, FP8, sub-byte), which npy writers refuse.
    public static func numpyDescr(for dtype: DType) -> String? {
        switch dtype {
        case .bool: "|b1"
        case .u8: "|u1"
        case .i8: "|i1"
        case .i16: "<i2"
        case .u16: "<u2"
        case .i32: "<i4"
        case .u32: "<u4"
        case .i64: "<i8"
        case .u64: "<u8"
        case .f16: "<f2"
        case .f32: "<f4"
        case .f64: "<f8"
        case .c64: "<c8"
        default: nil
        }
    }

    private static let kinds: [String: DType] = [
        "b1": .bool, "u1": .u8, "i1": .i8, "i2": .i16, "u2": .u16, "i4": .i32, "u4": .u32,
        "i8": .i64, "u8": .u64, "f2": .f16, "f4": .f32, "f8": .f64, "c8": .c64, "V2": .bf16,
    ]
}

/// A torch scalar type, as pickles name it: `torch.float32` globals (zip format v3,
/// `_rebuild_tensor_v3`) and the legacy `torch.FloatStorage` classes.
///
/// Raw values are torch's own names (`torch.<name>`); formats doc §3.4 (storage classes) and
/// §3.7 (the dtypes `torch.load(weights_only=True)` allows).
package enum TorchScalarType: String, Sendable, Hashable, CaseIterable {
    case float64, float32, float16, bfloat16
    case int64, int32, int16, int8, uint8, bool
    case uint16, uint32, uint64
    case complex32, complex64, complex128
    case float8_e5m2, float8_e4m3fn, float8_e5m2fnuz, float8_e4m3fnuz, float8_e8m0fnu
    case float4_e2m1fn_x2
    case bits8, bits16, bits1x8, bits2x4, bits4x2
    case qint8, quint8, qint32, quint4x2, quint2x4
    case int1, int2, int3, int4, int5, int6, int7
    case uint1, uint2, uint3, uint4, uint5, uint6, uint7

    /// Bytes per element of a storage of this type (`torch._utils._element_size`); nil for the
    /// sub-byte placeholder types, which no storage holds.
    package var elementSize: Int? {
        switch self {
        case .float64, .int64, .uint64, .complex64: 8
        case .complex128: 16
        case .float32, .int32, .uint32, .qint32, .complex32: 4
        case .float16, .bfloat16, .int16, .uint16, .bits16: 2
        case .int8, .uint8, .bool, .float8_e5m2, .float8_e4m3fn, .float8_e5m2fnuz,
            .float8_e4m3fnuz, .float8_e8m0fnu, .float4_e2m1fn_x2, .bits8, .bits1x8, .bits2x4,
            .bits4x2, .qint8, .quint8, .quint4x2, .quint2x4:
            1
        case .int1, .int2, .int3, .int4, .int5, .int6, .int7,
            .uint1, .uint2, .uint3, .uint4, .uint5, .uint6, .uint7:
            nil
        }
    }

    /// The ckpt dtype with the same encoding; nil for types ckpt does not model (complex128,
    /// packed fp4 pairs, quantized and `bits` types).
    package var dtype: DType? {
        switch self {
        case .float64: .f64
        case .float32: .f32
        case .float16: .f16
        case .bfloat16: .bf16
        case .int64: .i64
        case .int32: .i32
        case .int16: .i16
        case .int8: .i8
        case .uint8: .u8
        case .bool: .bool
        case .uint16: .u16
        case .uint32: .u32
        case .uint64: .u64
        case .complex64: .c64
        case .float8_e5m2: .f8e5m2
        case .float8_e4m3fn: .f8e4m3
        case .float8_e5m2fnuz: .f8e5m2fnuz
        case .float8_e4m3fnuz: .f8e4m3fnuz
        case .float8_e8m0fnu: .f8e8m0
        default: nil
        }
    }

    /// The scalar type of a legacy typed-storage class (`torch.storage._dtype_to_storage_type_map`,
    /// formats doc §3.4), by class name (`FloatStorage`).
    package init?(storageClass name: String) {
        switch name {
        case "DoubleStorage": self = .float64
        case "FloatStorage": self = .float32
        case "HalfStorage": self = .float16
        case "BFloat16Storage": self = .bfloat16
        case "LongStorage": self = .int64
        case "IntStorage": self = .int32
        case "ShortStorage": self = .int16
        case "CharStorage": self = .int8
        case "ByteStorage": self = .uint8
        case "BoolStorage": self = .bool
        case "ComplexFloatStorage": self = .complex64
        case "ComplexDoubleStorage": self = .complex128
        case "QInt8Storage": self = .qint8
        case "QUInt8Storage": self = .quint8
        case "QInt32Storage": self = .qint32
        case "QUInt4x2Storage": self = .quint4x2
        case "QUInt2x4Storage": self = .quint2x4
        default: return nil
        }
    }

    /// torch's name for messages: `torch.float32`.
    package var torchName: String { "torch." + rawValue }
}

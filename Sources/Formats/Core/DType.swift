/// The element type of a dense (non-block-quantized) tensor.
///
/// Raw values are the names used everywhere in ckpt (cli.md), which are also safetensors'
/// dtype strings. The declaration order is safetensors' enum order ("increasing alignment"),
/// which its writer sorts by (formats doc §1.2, §1.5).
public enum DType: String, Sendable, Hashable, CaseIterable, Codable {
    case bool = "BOOL"
    case f4 = "F4"
    case f6e2m3 = "F6_E2M3"
    case f6e3m2 = "F6_E3M2"
    case u8 = "U8"
    case i8 = "I8"
    case f8e5m2 = "F8_E5M2"
    case f8e4m3 = "F8_E4M3"
    case f8e8m0 = "F8_E8M0"
    case f8e4m3fnuz = "F8_E4M3FNUZ"
    case f8e5m2fnuz = "F8_E5M2FNUZ"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case c64 = "C64"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// Bits per element (4 and 6 for the OCP MX sub-byte types).
    public var bitsPerElement: Int {
        switch self {
        case .f4: 4
        case .f6e2m3, .f6e3m2: 6
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz: 8
        case .i16, .u16, .f16, .bf16: 16
        case .i32, .u32, .f32: 32
        case .c64, .f64, .i64, .u64: 64
        }
    }

    /// Bytes per element for byte-aligned types; nil for the sub-byte ones.
    public var byteSize: Int? { bitsPerElement % 8 == 0 ? bitsPerElement / 8 : nil }

    /// Floating types (including FP8 and the MX types); these are what `--dtype` casts.
    public var isFloatingPoint: Bool {
        switch self {
        case .f4, .f6e2m3, .f6e3m2, .f8e5m2, .f8e4m3, .f8e8m0, .f8e4m3fnuz, .f8e5m2fnuz,
            .f16, .bf16, .f32, .f64, .c64:
            true
        default: false
        }
    }

    public var isInteger: Bool {
        switch self {
        case .u8, .i8, .i16, .u16, .i32, .u32, .i64, .u64: true
        default: false
        }
    }

    /// Parses a user-facing name case-insensitively (`f16`, `bf16`, `F32`).
    public init?(name: String) {
        guard let t = DType(rawValue: name.uppercased()) else { return nil }
        self = t
    }

    /// Byte count of `elements` values, or nil when it overflows or does not end on a byte.
    public func byteCount(elements: Int) -> Int? {
        let (bits, overflow) = elements.multipliedReportingOverflow(by: bitsPerElement)
        guard !overflow, bits % 8 == 0 else { return nil }
        return bits / 8
    }
}

import OrderedCollections

/// Ordered key/value metadata: safetensors `__metadata__`, GGUF key/values, `config.json`.
public typealias Metadata = OrderedDictionary<String, MetadataValue>

/// A typed metadata value. GGUF's integer and float widths are kept, so GGUF → GGUF
/// conversion writes back exactly the types it read (llama.cpp checks some of them).
public indirect enum MetadataValue: Sendable, Hashable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16)
    case uint32(UInt32), int32(Int32), uint64(UInt64), int64(Int64)
    case float32(Float), float64(Double)
    case bool(Bool)
    case string(String)
    /// A homogeneous array (GGUF) or any JSON array. `elementType` names the GGUF element
    /// type of an array read from GGUF, so that empty arrays also round-trip.
    case array([MetadataValue], elementType: MetadataValueType? = nil)
    /// A JSON object (directories' `config.json`).
    case object(Metadata)
    case null

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }

    /// Any integer case as Int64, when it fits.
    public var intValue: Int64? {
        switch self {
        case .uint8(let v): Int64(v)
        case .int8(let v): Int64(v)
        case .uint16(let v): Int64(v)
        case .int16(let v): Int64(v)
        case .uint32(let v): Int64(v)
        case .int32(let v): Int64(v)
        case .uint64(let v): Int64(exactly: v)
        case .int64(let v): v
        default: nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: intValue.map(Double.init)
        }
    }

    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }

    public var arrayValue: [MetadataValue]? {
        if case .array(let a, _) = self { a } else { nil }
    }

    public var objectValue: Metadata? { if case .object(let o) = self { o } else { nil } }

    /// Member lookup for objects (`config["rope_scaling"]`).
    public subscript(key: String) -> MetadataValue? { objectValue?[key] }
}

/// GGUF's value type tags (`enum gguf_type`, formats-gguf.md §1.2).
public enum MetadataValueType: UInt32, Sendable, Hashable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6
    case bool = 7, string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12
}

extension MetadataValue {
    /// The GGUF type tag this value is written with; objects and null have none.
    public var ggufType: MetadataValueType? {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .uint64: .uint64
        case .int64: .int64
        case .float32: .float32
        case .float64: .float64
        case .bool: .bool
        case .string: .string
        case .array: .array
        case .object, .null: nil
        }
    }
}

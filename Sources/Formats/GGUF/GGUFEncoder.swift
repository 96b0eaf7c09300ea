/// Serializes a GGUF header (little-endian, version 3) exactly as gguf-py's `GGUFWriter`
/// packs it: key/values in order, each value with the width its `MetadataValue` case names,
/// then the tensor infos with `ne` reversed from the row-major shape.
struct GGUFEncoder {
    private(set) var bytes: [UInt8] = []
    /// Output path, for errors.
    let file: String

    init(file: String) { self.file = file }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(string: String) {
        append(UInt64(string.utf8.count))
        bytes.append(contentsOf: string.utf8)
    }

    private func fail(_ reason: FormatError.Reason, _ field: String) -> FormatError {
        FormatError(reason, file: file, field: field)
    }

    /// One key/value: key, value type, value.
    mutating func append(key: String, value: MetadataValue) throws(FormatError) {
        guard !key.isEmpty else { throw fail(.invalid("empty key"), "metadata") }
        guard key.utf8.count <= GGUFLimits.maxStringLength else {
            throw fail(
                .limitExceeded("key longer than \(GGUFLimits.maxStringLength) bytes"), "metadata")
        }
        guard let type = value.ggufType else {
            throw fail(.unsupported("GGUF has no type for \(value)"), "metadata['\(key)']")
        }
        append(string: key)
        append(type.rawValue)
        try append(value, as: type, depth: 0) { "metadata['\(key)']" }
    }

    /// A value without its type tag (array elements are written this way too).
    private mutating func append(
        _ value: MetadataValue, as type: MetadataValueType, depth: Int, path: () -> String
    ) throws(FormatError) {
        guard value.ggufType == type else {
            throw fail(
                .invalid(
                    "\(value.ggufType?.ggufName ?? "object/null") element in a \(type.ggufName) array"
                ),
                path())
        }
        switch value {
        case .uint8(let v): append(v)
        case .int8(let v): append(v)
        case .uint16(let v): append(v)
        case .int16(let v): append(v)
        case .uint32(let v): append(v)
        case .int32(let v): append(v)
        case .uint64(let v): append(v)
        case .int64(let v): append(v)
        case .float32(let v): append(v.bitPattern)
        case .float64(let v): append(v.bitPattern)
        case .bool(let v): append(UInt8(v ? 1 : 0))
        case .string(let s):
            guard s.utf8.count <= GGUFLimits.maxStringLength else {
                throw fail(
                    .limitExceeded("string longer than \(GGUFLimits.maxStringLength) bytes"), path()
                )
            }
            append(string: s)
        case .array(let values, let declared):
            guard depth < GGUFLimits.maxArrayDepth else {
                throw fail(
                    .limitExceeded("arrays nested deeper than \(GGUFLimits.maxArrayDepth)"), path())
            }
            guard values.count <= GGUFLimits.maxArrayElements else {
                throw fail(
                    .limitExceeded("more than \(GGUFLimits.maxArrayElements) elements"), path())
            }
            // gguf-py: the declared sub-type, else the first element's type; empty arrays
            // need a declared type (gguf-py refuses them outright).
            guard let elementType = declared ?? values.first?.ggufType else {
                throw fail(.invalid("empty array without an element type"), path())
            }
            append(elementType.rawValue)
            append(UInt64(values.count))
            for (j, element) in values.enumerated() {
                try append(element, as: elementType, depth: depth + 1) { "\(path())[\(j)]" }
            }
        case .object, .null:
            throw fail(.unsupported("GGUF has no type for objects or null"), path())
        }
    }

    /// One tensor info: name, n_dims, ne (reversed shape), ggml type, data offset.
    mutating func appendTensorInfo(name: String, shape: [Int], type: GGMLType, offset: Int) {
        append(string: name)
        append(UInt32(shape.count))
        for d in shape.reversed() { append(UInt64(d)) }
        append(type.rawValue)
        append(UInt64(offset))
    }
}

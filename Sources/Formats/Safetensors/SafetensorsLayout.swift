/// Where every byte of a safetensors file goes, computed from the plan before any data.
///
/// Follows the reference Rust writer (`safetensors::tensor::prepare`, formats doc §1.5) so
/// that the same tensors and metadata give a byte-identical file: tensors sorted by dtype
/// descending in the dtype enum's order (wider first, so each starts aligned to its element
/// size), ties by name byte-wise; offsets assigned consecutively; the header serialized as
/// compact serde_json (`__metadata__` first, entry keys `dtype`, `shape`, `data_offsets`)
/// and padded with spaces to a multiple of 8. (The reference writes several metadata keys
/// in a random hash-map order; this writes them in the given order.)
public struct SafetensorsLayout: Sendable {
    /// The 8-byte length prefix and the padded JSON header.
    public let prefix: [UInt8]
    /// The tensors in file order; `location.offset` is the absolute file offset.
    public let tensors: [TensorInfo]
    /// Total file size.
    public let fileSize: Int

    /// Plans a file holding `plan` (in any order) and `metadata` (string values only).
    /// - Throws: `FormatError` for a block-quantized type (safetensors stores dense dtypes
    ///   only), a byte count that does not match dtype and shape, a duplicate or reserved
    ///   name, a metadata value that is not a string, or a header over 100 MB.
    public init(metadata: Metadata, plan: [TensorInfo], file: String) throws(FormatError) {
        var names = Set<String>()
        var dense: [(TensorInfo, DType)] = []
        dense.reserveCapacity(plan.count)
        for t in plan {
            guard case .dense(let dtype) = t.type else {
                throw FormatError(
                    .unsupported("safetensors stores dense dtypes only, not \(t.type)"), file: file,
                    field: t.name)
            }
            guard t.byteCount == dtype.byteCount(elements: t.shape.checkedElementCount ?? -1),
                t.shape.allSatisfy({ $0 >= 0 })
            else {
                throw FormatError(
                    .invalid("\(t.byteCount) bytes do not fit \(dtype.rawValue) \(t.shape)"),
                    file: file, field: t.name)
            }
            guard t.name != SafetensorsFile.metadataKey else {
                throw FormatError(
                    .invalid("a tensor may not be named \(SafetensorsFile.metadataKey)"),
                    file: file,
                    field: t.name)
            }
            guard names.insert(t.name).inserted else {
                throw FormatError(.invalid("duplicate tensor name"), file: file, field: t.name)
            }
            dense.append((t, dtype))
        }
        let rank = Dictionary(uniqueKeysWithValues: DType.allCases.enumerated().map { ($1, $0) })
        dense.sort { a, b in
            let ra = rank[a.1] ?? 0
            let rb = rank[b.1] ?? 0
            if ra != rb { return ra > rb }
            return Array(a.0.name.utf8).lexicographicallyPrecedes(Array(b.0.name.utf8))
        }

        var json: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        func comma() {
            if !first { json.append(UInt8(ascii: ",")) }
            first = false
        }
        if !metadata.isEmpty {
            comma()
            Self.appendString(SafetensorsFile.metadataKey, to: &json)
            json.append(contentsOf: Array(":{".utf8))
            for (k, (key, value)) in metadata.enumerated() {
                guard let s = value.stringValue else {
                    throw FormatError(
                        .invalid(
                            "safetensors metadata values must be strings, found \(value.jsonKind)"),
                        file: file, field: "__metadata__[\"\(key)\"]")
                }
                if k > 0 { json.append(UInt8(ascii: ",")) }
                Self.appendString(key, to: &json)
                json.append(UInt8(ascii: ":"))
                Self.appendString(s, to: &json)
            }
            json.append(UInt8(ascii: "}"))
        }
        var offset = 0
        var relative: [TensorInfo] = []
        relative.reserveCapacity(dense.count)
        for (t, dtype) in dense {
            comma()
            Self.appendString(t.name, to: &json)
            json.append(contentsOf: Array(":{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[".utf8))
            json.append(contentsOf: Array(t.shape.map(String.init).joined(separator: ",").utf8))
            let (end, overflow) = offset.addingReportingOverflow(t.byteCount)
            guard !overflow else {
                throw FormatError(
                    .limitExceeded("total data size overflows"), file: file, field: t.name)
            }
            json.append(contentsOf: Array("],\"data_offsets\":[\(offset),\(end)]}".utf8))
            relative.append(
                TensorInfo(
                    name: t.name, type: t.type, shape: t.shape, byteCount: t.byteCount,
                    location: .init(offset: offset)))
            offset = end
        }
        json.append(UInt8(ascii: "}"))
        while json.count % 8 != 0 { json.append(0x20) }
        guard json.count <= SafetensorsFile.maxHeaderSize else {
            throw FormatError(
                .limitExceeded(
                    "header of \(json.count) bytes exceeds \(SafetensorsFile.maxHeaderSize) (safetensors MAX_HEADER_SIZE)"
                ),
                file: file, field: "header")
        }
        var prefix = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
        prefix += json
        let dataOffset = prefix.count
        guard case (let size, false) = offset.addingReportingOverflow(dataOffset) else {
            throw FormatError(.limitExceeded("file size overflows"), file: file, field: "data")
        }
        self.prefix = prefix
        fileSize = size
        tensors = relative.map {
            var t = $0
            t.location.offset += dataOffset
            return t
        }
    }

    /// Appends `s` as a JSON string escaped exactly as serde_json does: `\"`, `\\`, the
    /// short escapes `\b \t \n \f \r`, other control bytes as `\u00xx` (lower-case hex),
    /// everything else (non-ASCII included) as raw UTF-8.
    static func appendString(_ s: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += [0x5C, 0x22]
            case UInt8(ascii: "\\"): out += [0x5C, 0x5C]
            case 0x08: out += [0x5C, UInt8(ascii: "b")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0C: out += [0x5C, UInt8(ascii: "f")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0..<0x20:
                out += Array("\\u00".utf8)
                out += [hex[Int(b >> 4)], hex[Int(b & 0xF)]]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

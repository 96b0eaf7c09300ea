/// Reads and checks everything before a GGUF file's data section: header, key/values and
/// tensor infos, in the order of ggml's `gguf_init_from_reader` (formats-gguf.md §1.7).
///
/// Big-endian files (§1.6) go through the same code: the preamble decides the byte order
/// once, and every multi-byte field after it is read in that order, so each check, message
/// and offset is the same in both.
struct GGUFHeaderParser {
    struct Header {
        var version: UInt32
        /// Every multi-byte field (and dense tensor element) is stored big-endian.
        var isBigEndian: Bool
        var metadata: Metadata
        var alignment: Int
        var dataOffset: Int
        var tensors: [TensorInfo]
    }

    /// A tensor info as read, before the data section's position is known.
    private struct RawTensorInfo {
        var index: Int
        var name: String
        var type: GGMLType
        var ne: [Int]
        var byteCount: Int
        var offset: Int
        /// Position of the name's length field, for errors about the name.
        var namePosition: Int
        /// Position of the `offset` field, for errors about it.
        var offsetFieldPosition: Int
    }

    private var reader: ByteReader
    private var totalArrayElements = 0
    /// Set by the preamble: the file's byte order for every field after the magic.
    private var bigEndian = false

    init(_ buffer: ByteBuffer) {
        reader = ByteReader(buffer.all)
    }

    mutating func parse() throws(FormatError) -> Header {
        let version = try readPreamble()
        let tensorCount = try readCount("header.tensor_count")
        let kvCount = try readCount("header.kv_count")
        try checkCounts(tensorCount: tensorCount, kvCount: kvCount)

        var metadata = Metadata()
        var alignmentValue: (value: MetadataValue, at: Int)?
        for i in 0..<kvCount {
            let keyStart = reader.offset
            let key = try readString(maxLength: GGUFLimits.maxStringLength, "kv[\(i)].key")
            guard !key.isEmpty else {
                throw reader.error(
                    .invalid("key \(i) is empty"), field: "kv[\(i)].key", at: keyStart)
            }
            guard metadata[key] == nil else {
                throw reader.error(
                    .invalid("duplicate key '\(key)'"), field: "kv[\(i)].key", at: keyStart)
            }
            let type = try readType("kv[\(i)].type")
            let valueStart = reader.offset
            let value = try readValue(type, depth: 0) { key }
            if key == GGUFLimits.alignmentKey { alignmentValue = (value, valueStart) }
            metadata[key] = value
        }

        var alignment = GGUFLimits.defaultAlignment
        if let (value, at) = alignmentValue {
            guard case .uint32(let a) = value else {
                throw reader.error(
                    .invalid("must be UINT32, found \(value.ggufType?.ggufName ?? "?")"),
                    field: GGUFLimits.alignmentKey, at: at)
            }
            guard a != 0, a & (a - 1) == 0 else {
                throw reader.error(
                    .invalid("\(a) is not a non-zero power of two"),
                    field: GGUFLimits.alignmentKey, at: at)
            }
            alignment = Int(a)
        }

        var infos: [RawTensorInfo] = []
        infos.reserveCapacity(tensorCount)  // bounded by the bytes left (checkCounts)
        var names: [String: Int] = [:]
        for i in 0..<tensorCount {
            let info = try readTensorInfo(i)
            if let first = names[info.name] {
                throw reader.error(
                    .invalid(
                        "duplicate tensor name '\(info.name)' (first: tensor_infos[\(first)])"),
                    field: "tensor_infos[\(i)].name", at: info.namePosition)
            }
            names[info.name] = i
            infos.append(info)
        }

        // ggml seeks to the padded data start only when there are tensors (§1.3).
        let headerEnd = reader.offset
        var dataOffset = headerEnd
        if tensorCount > 0 {
            guard let padded = GGUFLimits.padded(headerEnd, to: alignment),
                padded <= reader.slice.count
            else {
                throw reader.error(
                    .truncated(
                        needed: alignment - headerEnd % alignment, available: reader.remaining),
                    field: "padding before data section")
            }
            dataOffset = padded
        }
        let tensors = try placeTensors(infos, dataOffset: dataOffset, alignment: alignment)
        return Header(
            version: version, isBigEndian: bigEndian, metadata: metadata, alignment: alignment,
            dataOffset: dataOffset, tensors: tensors)
    }

    // MARK: Header

    /// Magic and version, with ggml's distinctions between the unsupported cases; sets the
    /// byte order as gguf-py's reader does.
    private mutating func readPreamble() throws(FormatError) -> UInt32 {
        let magic = try reader.bytes(4, "header.magic")
        guard magic.bytes == GGUFLimits.magic else {
            let shown = magic.bytes.map { String($0, radix: 16) }.joined(separator: " ")
            throw reader.error(
                .invalid("bad magic \(shown), expected 47 47 55 46 (\"GGUF\")"),
                field: "header.magic", at: 0)
        }
        let at = reader.offset
        var version = try reader.read(UInt32.self, "header.version")
        if version == 0 {
            throw reader.error(.invalid("version 0"), field: "header.version", at: at)
        }
        // ggml and gguf-py: a version whose low 16 bits read zero is a byte-swapped one, and
        // then the whole file is big-endian (§1.6). gguf-py reads it; ggml refuses it.
        if version & 0xFFFF == 0 {
            bigEndian = true
            version = version.byteSwapped
        }
        let order = bigEndian ? " (big-endian)" : ""
        if version == 1 {
            throw reader.error(
                .unsupported(
                    "GGUF v1\(order) (u32 counts) is no longer supported; ggml reads only 2 and 3"),
                field: "header.version", at: at)
        }
        guard version <= GGUFLimits.currentVersion else {
            throw reader.error(
                .unsupported("version \(version)\(order); ckpt reads versions 2 and 3"),
                field: "header.version", at: at)
        }
        return version
    }

    /// An integer field in the file's byte order (bounds-checked by the reader).
    private mutating func read<T: FixedWidthInteger>(
        _: T.Type, _ field: @autoclosure () -> String
    ) throws(FormatError) -> T {
        if bigEndian { return try reader.readBigEndian(T.self, field()) }
        return try reader.read(T.self, field())
    }

    /// A u64 count that ggml reads as int64: negative values are rejected.
    private mutating func readCount(_ field: String) throws(FormatError) -> Int {
        let at = reader.offset
        let raw = try read(UInt64.self, field)
        guard let n = Int(exactly: raw) else {
            throw reader.error(
                .invalid("\(Int64(bitPattern: raw)) is negative"), field: field, at: at)
        }
        return n
    }

    /// Every key/value and tensor info takes a minimum number of bytes; counts that could not
    /// fit in what is left are rejected before any array is sized by them.
    private func checkCounts(tensorCount: Int, kvCount: Int) throws(FormatError) {
        let left = reader.remaining
        guard kvCount <= left / GGUFLimits.minimumKeyValueSize else {
            throw reader.error(
                .invalid(
                    "\(kvCount) key/values need at least \(GGUFLimits.minimumKeyValueSize) bytes each, "
                        + "only \(left) bytes left"),
                field: "header.kv_count", at: 16)
        }
        let kvBytes = kvCount * GGUFLimits.minimumKeyValueSize
        guard tensorCount <= (left - kvBytes) / GGUFLimits.minimumTensorInfoSize else {
            throw reader.error(
                .invalid(
                    "\(tensorCount) tensor infos need at least "
                        + "\(GGUFLimits.minimumTensorInfoSize) bytes each, only \(left - kvBytes) "
                        + "bytes left after the key/values"),
                field: "header.tensor_count", at: 8)
        }
    }

    // MARK: Values

    /// A length-prefixed UTF-8 string; the length is checked against `maxLength` and the
    /// bytes left before anything is read.
    private mutating func readString(maxLength: Int, _ field: @autoclosure () -> String)
        throws(FormatError) -> String
    {
        let at = reader.offset
        let raw = try read(UInt64.self, "\(field()).length")
        guard raw <= UInt64(maxLength) else {
            throw reader.error(
                .limitExceeded("string length \(raw) exceeds \(maxLength)"),
                field: "\(field()).length", at: at)
        }
        return try reader.string(Int(raw), field())
    }

    private mutating func readType(_ field: @autoclosure () -> String) throws(FormatError)
        -> MetadataValueType
    {
        let at = reader.offset
        let raw = try read(UInt32.self, field())
        guard let type = MetadataValueType(rawValue: raw) else {
            throw reader.error(
                .invalid("invalid value type \(Int32(bitPattern: raw))"),
                field: field(), at: at)
        }
        return type
    }

    /// One value of `type`; `path` names it in errors (`tokenizer.ggml.tokens[17]`).
    private mutating func readValue(
        _ type: MetadataValueType, depth: Int, path: () -> String
    ) throws(FormatError) -> MetadataValue {
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, path()))
        case .int8: return .int8(try read(Int8.self, path()))
        case .uint16: return .uint16(try read(UInt16.self, path()))
        case .int16: return .int16(try read(Int16.self, path()))
        case .uint32: return .uint32(try read(UInt32.self, path()))
        case .int32: return .int32(try read(Int32.self, path()))
        case .uint64: return .uint64(try read(UInt64.self, path()))
        case .int64: return .int64(try read(Int64.self, path()))
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self, path())))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, path())))
        case .bool:
            let at = reader.offset
            let b = try read(UInt8.self, path())
            // The spec calls anything but 0 and 1 invalid (ggml would read it as true).
            guard b <= 1 else {
                throw reader.error(
                    .invalid("bool byte \(b) is neither 0 nor 1"), field: path(), at: at)
            }
            return .bool(b == 1)
        case .string:
            return .string(try readString(maxLength: GGUFLimits.maxStringLength, path()))
        case .array:
            return try readArray(depth: depth + 1, path: path)
        }
    }

    private mutating func readArray(depth: Int, path: () -> String) throws(FormatError)
        -> MetadataValue
    {
        let start = reader.offset
        guard depth <= GGUFLimits.maxArrayDepth else {
            throw reader.error(
                .limitExceeded("arrays nested deeper than \(GGUFLimits.maxArrayDepth)"),
                field: "\(path()).type", at: start)
        }
        let elementType = try readType("\(path()).type")
        let countAt = reader.offset
        let raw = try read(UInt64.self, "\(path()).count")
        guard raw <= UInt64(GGUFLimits.maxArrayElements) else {
            throw reader.error(
                .limitExceeded("\(raw) elements exceed \(GGUFLimits.maxArrayElements)"),
                field: "\(path()).count", at: countAt)
        }
        let count = Int(raw)
        let minimum = elementType.minimumEncodedSize
        guard count <= reader.remaining / minimum else {
            throw reader.error(
                .truncated(needed: count * minimum, available: reader.remaining),
                field: "\(path()).count", at: countAt)
        }
        totalArrayElements += count  // cannot overflow: each count is at most the file size
        guard totalArrayElements <= GGUFLimits.maxTotalArrayElements else {
            throw reader.error(
                .limitExceeded(
                    "metadata arrays hold more than \(GGUFLimits.maxTotalArrayElements) elements"),
                field: "\(path()).count", at: countAt)
        }
        var values: [MetadataValue] = []
        values.reserveCapacity(count)  // checked against the bytes left above
        for j in 0..<count {
            values.append(try readValue(elementType, depth: depth) { "\(path())[\(j)]" })
        }
        return .array(values, elementType: elementType)
    }

    // MARK: Tensor infos

    private mutating func readTensorInfo(_ i: Int) throws(FormatError) -> RawTensorInfo {
        let field = "tensor_infos[\(i)]"
        let nameAt = reader.offset
        let name = try readString(maxLength: GGUFLimits.maxTensorNameLength, "\(field).name")
        let nDimsAt = reader.offset
        let nDims = try read(UInt32.self, "\(field).n_dims")
        guard nDims <= UInt32(GGUFLimits.maxDimensions) else {
            throw reader.error(
                .limitExceeded("n_dims \(nDims) exceeds \(GGUFLimits.maxDimensions)"),
                field: "\(field).n_dims", at: nDimsAt)
        }
        var ne: [Int] = []
        var elements = 1
        for j in 0..<Int(nDims) {
            let at = reader.offset
            let raw = try read(Int64.self, "\(field).ne[\(j)]")
            guard raw >= 0 else {
                throw reader.error(
                    .invalid("ne[\(j)] = \(raw) is negative"),
                    field: "\(field).ne[\(j)]", at: at)
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: Int(raw))
            guard !overflow else {
                throw reader.error(
                    .invalid("element count overflows int64 at ne[\(j)] = \(raw)"),
                    field: "\(field).ne[\(j)]", at: at)
            }
            elements = product
            ne.append(Int(raw))
        }
        let typeAt = reader.offset
        let rawType = try read(UInt32.self, "\(field).type")
        // Removed ids (4, 5, 31–33, 36–38) have block size 0 in ggml and are not cases here.
        guard let type = GGMLType(rawValue: rawType), type.blockSize > 0 else {
            throw reader.error(
                .invalid("unknown ggml type id \(Int32(bitPattern: rawType))"),
                field: "\(field).type", at: typeAt)
        }
        let ne0 = ne.first ?? 1
        guard ne0 % type.blockSize == 0 else {
            throw reader.error(
                .invalid(
                    "ne[0] = \(ne0) is not a multiple of \(type.name)'s block size \(type.blockSize)"
                ),
                field: "\(field).ne[0]", at: nDimsAt + 4)
        }
        guard let byteCount = type.byteCount(elements: elements) else {
            throw reader.error(
                .invalid("byte size of \(elements) \(type.name) elements overflows"),
                field: "\(field).type", at: typeAt)
        }
        let offsetAt = reader.offset
        let rawOffset = try read(UInt64.self, "\(field).offset")
        guard let offset = Int(exactly: rawOffset) else {
            throw reader.error(
                .invalid("offset \(rawOffset) exceeds int64"),
                field: "\(field).offset", at: offsetAt)
        }
        return RawTensorInfo(
            index: i, name: name, type: type, ne: ne, byteCount: byteCount, offset: offset,
            namePosition: nameAt, offsetFieldPosition: offsetAt)
    }

    /// Checks ggml's placement rule (§1.3: offsets aligned and exactly contiguous in info
    /// order) and that each tensor's bytes lie within the file.
    private func placeTensors(_ infos: [RawTensorInfo], dataOffset: Int, alignment: Int)
        throws(FormatError) -> [TensorInfo]
    {
        var tensors: [TensorInfo] = []
        tensors.reserveCapacity(infos.count)
        var expected = 0
        let fileSize = reader.slice.count
        for info in infos {
            let field = "tensor_infos[\(info.index)].offset"
            guard info.offset % alignment == 0 else {
                throw reader.error(
                    .invalid(
                        "offset \(info.offset) of '\(info.name)' is not a multiple of the alignment \(alignment)"
                    ),
                    field: field, at: info.offsetFieldPosition)
            }
            guard info.offset == expected else {
                throw reader.error(
                    .invalid(
                        "tensor '\(info.name)' has offset \(info.offset), expected \(expected) "
                            + "(ggml requires tensors contiguous in info order)"),
                    field: field, at: info.offsetFieldPosition)
            }
            // dataOffset ≤ fileSize and offset ≤ the running total of sizes that fit so far.
            let start = dataOffset + info.offset
            guard start <= fileSize, info.byteCount <= fileSize - start else {
                throw reader.error(
                    .truncated(needed: info.byteCount, available: max(0, fileSize - start)),
                    field: "tensor '\(info.name)' data", at: min(start, fileSize))
            }
            guard let next = GGUFLimits.padded(info.byteCount, to: alignment),
                case (let sum, false) = expected.addingReportingOverflow(next)
            else {
                throw reader.error(
                    .invalid("data section size overflows"), field: field,
                    at: info.offsetFieldPosition)
            }
            expected = sum
            let shape = Array(info.ne.reversed())
            let type: TensorType = info.type.denseType.map(TensorType.dense) ?? .ggml(info.type)
            tensors.append(
                TensorInfo(
                    name: info.name, type: type, shape: shape, byteCount: info.byteCount,
                    location: .init(offset: start, bigEndian: bigEndian && type.dense != nil)))
        }
        return tensors
    }
}

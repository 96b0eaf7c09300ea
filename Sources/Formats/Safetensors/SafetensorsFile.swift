#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A safetensors file, its whole header validated on open as the reference Rust reader does,
/// its tensors handed out as slices of the mapped file.
///
/// Every check of `SafeTensors::read_metadata` + `Metadata::validate` (formats doc §1.6) is
/// made, plus two the Rust reader lacks: duplicate JSON keys are an error (Rust keeps the
/// last silently) and extra `__metadata__` value types are named precisely.
///
/// ```swift
/// let file = try SafetensorsFile(path: "model.safetensors")
/// for t in file.tensors { print(t.name, t.type, t.shape) }
/// let bytes = try file.bytes(of: file.tensors[0])   // no copy
/// ```
public struct SafetensorsFile: TensorSource {
    /// Largest header accepted: `MAX_HEADER_SIZE` in safetensors/src/tensor.rs (100 MB).
    public static let maxHeaderSize = 100_000_000
    /// The key reserved for string metadata in the header.
    public static let metadataKey = "__metadata__"

    /// The mapped (or in-memory) file.
    public let buffer: ByteBuffer
    /// Length of the JSON header (padding included), the file's first 8 bytes.
    public let headerSize: Int
    /// `__metadata__`, every value a `.string`; empty when absent or `null`.
    public let metadata: Metadata
    /// In file order: by data offset; zero-size tensors sharing an offset keep the order of
    /// their header entries (which, for the reference writer, is its write order).
    /// `location.offset` is the absolute file offset of the tensor's first byte.
    public let tensors: [TensorInfo]

    public var format: CheckpointFormat { .safetensors }
    /// The file path (or the in-memory buffer's label).
    public var path: String { buffer.name }
    /// File offset of the byte buffer: 8 + `headerSize`.
    public var dataOffset: Int { 8 + headerSize }

    /// Maps and validates the file at `path`.
    /// - Throws: `FormatError` naming the file, byte offset and field of the first problem.
    public init(path: String) throws(FormatError) {
        let fd = try ByteBuffer.openForReading(path)
        defer { close(fd) }
        let buffer = try ByteBuffer(mapping: fd, name: path)
        try self.init(buffer: buffer, scan: true, prefix: Self.readPrefix(fd, fileSize: buffer.count))
    }

    /// Largest header copied with `pread` on open (larger ones are read from the mapping).
    static let maxCopiedHeader = 1 << 20

    /// The length prefix and header, read with `pread` (nil when unusual: too large, short
    /// read; the mapping is then read as usual, which reports any problem).
    static func readPrefix(_ fd: Int32, fileSize: Int) -> [UInt8]? {
        var length: UInt64 = 0
        guard fileSize >= 8, pread(fd, &length, 8, 0) == 8 else { return nil }
        let n = Int(clamping: UInt64(littleEndian: length))
        guard n <= maxCopiedHeader, n <= fileSize - 8 else { return nil }
        let prefix = [UInt8](unsafeUninitializedCapacity: 8 + n) { b, count in
            count = b.baseAddress.map { pread(fd, $0, 8 + n, 0) == 8 + n ? 8 + n : 0 } ?? 0
        }
        return prefix.count == 8 + n ? prefix : nil
    }

    /// Validates a safetensors file held in `buffer` (mapped or in memory).
    /// - Throws: `FormatError` naming `buffer.name`, the byte offset and the field.
    public init(buffer: ByteBuffer) throws(FormatError) {
        try self.init(buffer: buffer, scan: true)
    }

    /// `scan: false` skips `SafetensorsHeaderScanner` (tests compare the two paths);
    /// `prefix`, when given, is a copy of the file's first 8 + header-size bytes, scanned
    /// instead of the mapping.
    init(buffer: ByteBuffer, scan: Bool, prefix: [UInt8]? = nil) throws(FormatError) {
        self.buffer = buffer
        if scan, let prefix, prefix.count >= 8 {
            let n = prefix.count - 8
            let scanned = prefix.withUnsafeBytes { p in
                SafetensorsHeaderScanner.scan(UnsafeRawBufferPointer(rebasing: p[8...]), base: 8)
            }
            if let scanned {
                headerSize = n
                metadata = scanned.metadata
                tensors = try Self.validate(
                    scanned.entries, dataOffset: 8 + n, dataLength: buffer.count - 8 - n, file: buffer.name)
                return
            }
        }
        let file = buffer.name
        var reader = ByteReader(buffer.all)
        let declared = try reader.read(UInt64.self, "header_size")
        guard declared <= UInt64(Self.maxHeaderSize) else {
            throw FormatError(
                .limitExceeded(
                    "header size \(declared) exceeds \(Self.maxHeaderSize) bytes (safetensors MAX_HEADER_SIZE)"
                ),
                file: file, offset: 0, field: "header_size")
        }
        let n = Int(declared)
        guard n <= buffer.count - 8 else {
            throw FormatError(
                .truncated(needed: n, available: buffer.count - 8), file: file, offset: 0,
                field: "header_size")
        }
        headerSize = n
        let header = try reader.bytes(n, "header")
        // The common shape of header in one pass; anything unusual takes the strict path
        // below, whose errors name the exact offset.
        if scan, let scanned = SafetensorsHeaderScanner.scan(header.raw, base: 8) {
            metadata = scanned.metadata
            tensors = try Self.validate(
                scanned.entries, dataOffset: 8 + n, dataLength: buffer.count - 8 - n, file: file)
            return
        }
        let parsed = try JSON.parse(header, field: "header")
        let locator = JSONLocator(header.raw)
        let at = { (relative: Int) in 8 + relative }
        guard case .object(let members) = parsed else {
            throw FormatError(
                .invalid("header is not a JSON object"), file: file,
                offset: at(locator.skipWhitespace(0)), field: "header")
        }
        let places = locator.members(ofObjectAt: 0)

        var metadata = Metadata()
        var entries: [SafetensorsEntry] = []
        entries.reserveCapacity(members.count)
        for (k, (name, value)) in members.enumerated() {
            // The locator walks text JSON.parse accepted, so counts agree; degrade to the
            // header's start rather than trap if they ever did not.
            let place = k < places.count ? places[k] : JSONLocator.Member(key: 0, value: 0)
            if name == Self.metadataKey {
                metadata = try Self.metadata(
                    value, members: locator.members(ofObjectAt: place.value), file: file,
                    offset: at(place.value), base: 8)
                continue
            }
            entries.append(
                try SafetensorsEntry(
                    name: name, value: value, members: locator.members(ofObjectAt: place.value),
                    file: file, offset: at(place.value), order: entries.count))
        }
        self.metadata = metadata
        tensors = try Self.validate(
            entries, dataOffset: 8 + n, dataLength: buffer.count - 8 - n, file: file)
    }

    /// The tensor's bytes: a slice of the buffer, no copy.
    /// - Throws: `FormatError` if `tensor` does not lie inside this file.
    public func bytes(of tensor: TensorInfo) throws(FormatError) -> ByteSlice {
        try buffer.all.slice(
            tensor.location.offset, tensor.byteCount, field: "tensors[\"\(tensor.name)\"]")
    }

    /// `__metadata__`: an object of strings, or `null` (MLX writes that for "none").
    static func metadata(
        _ value: MetadataValue, members places: [JSONLocator.Member], file: String, offset: Int,
        base: Int
    ) throws(FormatError) -> Metadata {
        switch value {
        case .null:
            return [:]
        case .object(let o):
            for (k, (key, v)) in o.enumerated() where v.stringValue == nil {
                throw FormatError(
                    .invalid("metadata values must be strings, found \(v.jsonKind)"), file: file,
                    offset: k < places.count ? base + places[k].value : offset,
                    field: "__metadata__[\"\(key)\"]")
            }
            return o
        default:
            throw FormatError(
                .invalid(
                    "__metadata__ must be an object of strings or null, found \(value.jsonKind)"),
                file: file, offset: offset, field: "__metadata__")
        }
    }

    /// Checks that the entries tile the byte buffer exactly and that each one's size
    /// matches its dtype and shape (§1.6 checks 6 to 10, in the Rust reader's order).
    static func validate(
        _ entries: [SafetensorsEntry], dataOffset: Int, dataLength: Int, file: String
    ) throws(FormatError) -> [TensorInfo] {
        let sorted = entries.sorted {
            ($0.begin, $0.end, $0.order) < ($1.begin, $1.end, $1.order)
        }
        var end = 0
        var out: [TensorInfo] = []
        out.reserveCapacity(sorted.count)
        for e in sorted {
            guard e.begin == end, e.end >= e.begin else {
                let what =
                    e.end < e.begin
                    ? "end before begin"
                    : e.begin > end
                        ? "a gap of \(e.begin - end) bytes before it"
                        : "overlaps the previous tensor"
                throw FormatError(
                    .invalid("data_offsets [\(e.begin), \(e.end)] must start at \(end): \(what)"),
                    file: file, offset: e.offsetsAt, field: "\(e.name).data_offsets")
            }
            guard let count = e.shape.checkedElementCount else {
                throw FormatError(
                    .invalid("shape \(e.shape) element count overflows"), file: file,
                    offset: e.shapeAt, field: "\(e.name).shape")
            }
            let (bits, overflow) = count.multipliedReportingOverflow(by: e.dtype.bitsPerElement)
            guard !overflow else {
                throw FormatError(
                    .invalid("\(count) elements of \(e.dtype.rawValue) overflow the bit count"),
                    file: file, offset: e.shapeAt, field: "\(e.name).shape")
            }
            guard bits % 8 == 0 else {
                throw FormatError(
                    .invalid("\(count) elements of \(e.dtype.rawValue) do not end on a byte"),
                    file: file, offset: e.shapeAt, field: "\(e.name).shape")
            }
            guard e.end - e.begin == bits / 8 else {
                throw FormatError(
                    .invalid(
                        "data_offsets span \(e.end - e.begin) bytes, but \(e.dtype.rawValue) \(e.shape) needs \(bits / 8)"
                    ),
                    file: file, offset: e.offsetsAt, field: "\(e.name).data_offsets")
            }
            end = e.end
            // dataOffset + begin cannot overflow: begin <= end, and the final check below
            // fails before any slice is taken when end exceeds the file.
            out.append(
                TensorInfo(
                    name: e.name, type: .dense(e.dtype), shape: e.shape, byteCount: bits / 8,
                    location: .init(file: 0, offset: e.begin)))
        }
        guard end == dataLength else {
            if end > dataLength {
                throw FormatError(
                    .truncated(needed: end, available: dataLength), file: file,
                    offset: dataOffset + dataLength, field: "data")
            }
            throw FormatError(
                .invalid("\(dataLength - end) trailing bytes after the last tensor"), file: file,
                offset: dataOffset + end, field: "data")
        }
        for i in out.indices { out[i].location.offset += dataOffset }
        return out
    }
}

extension MetadataValue {
    /// The JSON kind of a value, for messages (`integer 1`, `an array`).
    var jsonKind: String {
        switch self {
        case .string(let s): "string \"\(s)\""
        case .bool(let b): "boolean \(b)"
        case .null: "null"
        case .array: "an array"
        case .object: "an object"
        case .float32, .float64: "number \(jsonString())"
        default: "integer \(jsonString())"
        }
    }
}

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
/// Opening costs O(header) and little of it: the header is read with `pread`, validated in
/// a compact index (`SafetensorsIndex`), and the file is mapped only when a tensor's bytes
/// are first asked for; `tensors` are built on first use.
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

    /// Length of the JSON header (padding included), the file's first 8 bytes.
    public let headerSize: Int
    /// `__metadata__`, every value a `.string`; empty when absent or `null`.
    public let metadata: Metadata
    /// The file's size in bytes.
    public let fileSize: Int
    /// The file path (or the in-memory buffer's label).
    public let path: String
    private let storage: Storage

    public var format: CheckpointFormat { .safetensors }
    /// File offset of the byte buffer: 8 + `headerSize`.
    public var dataOffset: Int { 8 + headerSize }

    /// In file order: by data offset; zero-size tensors sharing an offset keep the order of
    /// their header entries (which, for the reference writer, is its write order).
    /// `location.offset` is the absolute file offset of the tensor's first byte.
    public var tensors: [TensorInfo] { storage.tensors() }

    /// The file's bytes: the mapping (made on first use) or the in-memory buffer.
    /// - Throws: `.io` when the system refuses the mapping.
    public var buffer: ByteBuffer {
        get throws(FormatError) { try storage.buffer() }
    }

    /// Validates the file at `path`; it is mapped when a tensor's bytes are first read.
    /// - Throws: `FormatError` naming the file, byte offset and field of the first problem.
    public init(path: String) throws(FormatError) {
        let fd = try ByteBuffer.openForReading(path)
        let size: Int
        let prefix: [UInt8]?
        let header: Header?
        do throws(FormatError) {
            size = try ByteBuffer.regularFileSize(fd, name: path)
            prefix = Self.readPrefix(fd, fileSize: size)
            header = try prefix.flatMap { p throws(FormatError) in try Self.scanned(p, fileSize: size, file: path) }
        } catch {
            close(fd)
            throw error
        }
        if let header {
            let mapping = FileMapping(adopting: fd, size: size, name: path)
            self.init(header, path: path, fileSize: size, bytes: .file(mapping))
            return
        }
        // A header the scanner declined (the strict path then names any problem), or one too
        // large or too short to read up front: mapped now and read from the mapping.
        defer { close(fd) }
        try self.init(buffer: ByteBuffer(mapping: fd, size: size, name: path), scan: prefix == nil)
    }

    /// Validates a safetensors file held in `buffer` (mapped or in memory).
    /// - Throws: `FormatError` naming `buffer.name`, the byte offset and the field.
    public init(buffer: ByteBuffer) throws(FormatError) {
        try self.init(buffer: buffer, scan: true)
    }

    /// `scan: false` skips `SafetensorsHeaderScanner` (tests compare the two paths).
    init(buffer: ByteBuffer, scan: Bool) throws(FormatError) {
        let header = try Self.parse(buffer, scan: scan)
        self.init(header, path: buffer.name, fileSize: buffer.count, bytes: .buffer(buffer))
    }

    private init(_ header: Header, path: String, fileSize: Int, bytes: Storage.Bytes) {
        headerSize = header.size
        metadata = header.metadata
        self.fileSize = fileSize
        self.path = path
        storage = Storage(bytes: bytes, index: header.index, dataOffset: 8 + header.size)
    }

    /// The tensor's bytes: a slice of the buffer, no copy.
    /// - Throws: `FormatError` if `tensor` does not lie inside this file.
    public func bytes(of tensor: TensorInfo) throws(FormatError) -> ByteSlice {
        try storage.buffer().all.slice(
            tensor.location.offset, tensor.byteCount, field: "tensors[\"\(tensor.name)\"]")
    }

    /// A validated header: its size, `__metadata__`, and the entries in file order.
    struct Header {
        var size: Int
        var metadata: Metadata
        var index: SafetensorsIndex
    }

    /// The file's bytes and its tensors, shared by the copies of one `SafetensorsFile`.
    /// Sendable: `tensors` is built once under the lock; the mapping has its own.
    final class Storage: @unchecked Sendable {
        enum Bytes {
            case buffer(ByteBuffer)
            case file(FileMapping)
        }

        let bytes: Bytes
        let dataOffset: Int
        private var index: SafetensorsIndex?
        private var built: [TensorInfo]?
        private var lock = pthread_mutex_t()

        init(bytes: Bytes, index: SafetensorsIndex, dataOffset: Int) {
            self.bytes = bytes
            self.index = index
            self.dataOffset = dataOffset
            pthread_mutex_init(&lock, nil)
        }

        deinit { pthread_mutex_destroy(&lock) }

        func buffer() throws(FormatError) -> ByteBuffer {
            switch bytes {
            case .buffer(let b): return b
            case .file(let f): return try f.buffer()
            }
        }

        func tensors() -> [TensorInfo] {
            pthread_mutex_lock(&lock)
            defer { pthread_mutex_unlock(&lock) }
            if let built { return built }
            let made = index?.tensors(dataOffset: dataOffset) ?? []
            built = made
            index = nil
            return made
        }
    }

    /// Smallest read on open: the length prefix and, for most files, the whole header.
    static let firstRead = 8 << 10
    /// Largest header copied with `pread` on open (larger ones are read from the mapping).
    static let maxCopiedHeader = 1 << 20

    /// The length prefix and header, read with `pread` (nil when unusual: too large, short
    /// read; the mapping is then read as usual, which reports any problem).
    static func readPrefix(_ fd: Int32, fileSize: Int) -> [UInt8]? {
        guard fileSize >= 8 else { return nil }
        var bytes = [UInt8](unsafeUninitializedCapacity: min(fileSize, firstRead)) { b, count in
            count = max(0, b.baseAddress.map { pread(fd, $0, b.count, 0) } ?? 0)
        }
        guard bytes.count >= 8 else { return nil }
        let length = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        let n = Int(clamping: length)
        guard n <= maxCopiedHeader, n <= fileSize - 8 else { return nil }
        if bytes.count >= 8 + n {
            bytes.removeLast(bytes.count - 8 - n)
            return bytes
        }
        let have = bytes.count
        let rest = [UInt8](unsafeUninitializedCapacity: 8 + n - have) { b, count in
            count = b.baseAddress.map { pread(fd, $0, b.count, off_t(have)) == b.count ? b.count : 0 } ?? 0
        }
        guard rest.count == 8 + n - have else { return nil }
        bytes.append(contentsOf: rest)
        return bytes
    }

    /// The header in `prefix` (length prefix included) as the scanner reads it, validated;
    /// nil when the scanner declines it (the strict path then reads it).
    static func scanned(_ prefix: [UInt8], fileSize: Int, file: String) throws(FormatError) -> Header? {
        guard prefix.count >= 8, var found = SafetensorsHeaderScanner.scan(prefix, from: 8, base: 8) else {
            return nil
        }
        let n = prefix.count - 8
        try found.index.validate(dataOffset: 8 + n, dataLength: fileSize - 8 - n, file: file)
        return Header(size: n, metadata: found.metadata, index: found.index)
    }

    /// The header of the file in `buffer`: scanned when `scan` and the scanner accepts it,
    /// else parsed by the strict path, whose errors name the exact offset.
    static func parse(_ buffer: ByteBuffer, scan: Bool) throws(FormatError) -> Header {
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
        let header = try reader.bytes(n, "header")
        // The common shape of header in one pass; anything unusual takes the strict path
        // below, whose errors name the exact offset.
        if scan, let found = try scanned(Array(buffer.all.raw[0..<(8 + n)]), fileSize: buffer.count, file: file) {
            return found
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
        var index = SafetensorsIndex(entries: entries)
        try index.validate(dataOffset: 8 + n, dataLength: buffer.count - 8 - n, file: file)
        return Header(size: n, metadata: metadata, index: index)
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

import Formats
import Foundation
import Testing
import TestSupport

/// Builds GGUF files byte by byte, for hostile-input tests.
struct GGUFBytes {
    var bytes: [UInt8] = []
    /// Writes every multi-byte field big-endian (a big-endian GGUF, formats-gguf.md §1.6).
    var bigEndian = false

    var count: Int { bytes.count }

    mutating func raw(_ b: [UInt8]) { bytes += b }
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { int(v) }
    mutating func u64(_ v: UInt64) { int(v) }
    mutating func i64(_ v: Int64) { int(v) }
    mutating func int(_ v: some FixedWidthInteger) {
        withUnsafeBytes(of: bigEndian ? v.bigEndian : v.littleEndian) { bytes += $0 }
    }
    mutating func string(_ s: String) {
        u64(UInt64(s.utf8.count))
        bytes += Array(s.utf8)
    }

    /// Magic, version and the two counts.
    static func header(
        version: UInt32 = 3, tensors: UInt64, kvs: UInt64, bigEndian: Bool = false
    ) -> GGUFBytes {
        var b = GGUFBytes(bigEndian: bigEndian)
        b.raw(Array("GGUF".utf8))
        b.u32(version)
        b.u64(tensors)
        b.u64(kvs)
        return b
    }

    /// A key with a UINT32 value.
    mutating func kvU32(_ key: String, _ v: UInt32) {
        string(key)
        u32(4)
        u32(v)
    }

    /// A tensor info; `ne` in ggml order.
    mutating func tensorInfo(_ name: String, ne: [Int64], type: UInt32, offset: UInt64) {
        string(name)
        u32(UInt32(ne.count))
        for d in ne { i64(d) }
        u32(type)
        u64(offset)
    }

    /// Zero bytes up to a multiple of `alignment`.
    mutating func pad(_ alignment: Int = 32) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }

    mutating func zeros(_ n: Int) { bytes += [UInt8](repeating: 0, count: n) }

    func open() throws(FormatError) -> GGUFFile {
        try GGUFFile(buffer: ByteBuffer(copying: bytes, name: "hostile.gguf"))
    }
}

/// Expects `body` to fail with a FormatError at `offset` on `field`, whose message contains
/// `message`.
func expectGGUFError(
    offset: Int, field: String, _ message: String,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws(FormatError) -> GGUFFile
) {
    do {
        let file = try body()
        Issue.record(
            "opened with \(file.tensors.count) tensors, expected an error",
            sourceLocation: sourceLocation)
    } catch {
        #expect(error.offset == offset, "\(error)", sourceLocation: sourceLocation)
        #expect(error.field == field, "\(error)", sourceLocation: sourceLocation)
        #expect(error.description.contains(message), "\(error)", sourceLocation: sourceLocation)
        #expect(error.file == "hostile.gguf", sourceLocation: sourceLocation)
    }
}

/// The JSON listings that make_gguf.py writes beside each fixture (gguf-py's reading).
enum GGUFListing {
    static func load(_ path: String) throws -> MetadataValue {
        try JSON.parse(String(contentsOfFile: path, encoding: .utf8), name: path)
    }

    /// gguf-py's `ReaderField.types` for a value: `[ARRAY, ARRAY, INT32]` for nested arrays.
    static func typePath(_ v: MetadataValue) -> [Int] {
        guard let t = v.ggufType else { return [] }
        guard case .array(let values, let element) = v, let element else {
            return [Int(t.rawValue)]
        }
        if values.isEmpty { return [9] }  // gguf-py lists no element type for empty arrays
        if element == .array, let first = values.first { return [9] + typePath(first) }
        return [9, Int(element.rawValue)]
    }

    /// `v` with arrays' element types dropped (as a `Metadata` literal builds them).
    static func withoutElementTypes(_ v: MetadataValue) -> MetadataValue {
        guard case .array(let values, _) = v else { return v }
        return .array(values.map(withoutElementTypes))
    }

    /// Nested arrays flattened, as gguf-py's `contents()` returns them.
    static func flattened(_ v: MetadataValue) -> [MetadataValue] {
        if case .array(let values, _) = v { return values.flatMap(flattened) }
        return [v]
    }

    /// Whether our value equals gguf-py's (via JSON): integers by their decimal text, floats
    /// exactly (Python prints the shortest repr of the double an f32 widens to).
    static func same(_ ours: MetadataValue, _ theirs: MetadataValue) -> Bool {
        switch ours {
        case .array:
            let a = flattened(ours)
            guard let b = theirs.arrayValue, a.count == b.count else { return false }
            return zip(a, b).allSatisfy { same($0, $1) }
        case .float32(let f): return theirs.doubleValue == Double(f)
        case .float64(let d): return theirs.doubleValue == d
        case .bool(let b): return theirs.boolValue == b
        case .string(let s): return theirs.stringValue == s
        case .uint64(let u):
            if case .uint64(let t) = theirs { return t == u }
            return theirs.intValue.map(String.init) == String(u)
        default:
            return ours.intValue != nil && ours.intValue == theirs.intValue
        }
    }

    /// Compares a file as we read it with a listing; returns the number of tensors checked.
    static func check(
        _ file: GGUFFile, against listing: MetadataValue,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(listing["version"]?.intValue == Int64(file.version), sourceLocation: sourceLocation)
        #expect(
            listing["big_endian"]?.boolValue == file.isBigEndian, sourceLocation: sourceLocation)
        #expect(
            listing["alignment"]?.intValue == Int64(file.alignment), sourceLocation: sourceLocation)
        let kvs = try #require(listing["kvs"]?.arrayValue)
        #expect(
            kvs.map { $0["key"]?.stringValue } == file.metadata.keys.map { $0 },
            sourceLocation: sourceLocation)
        for kv in kvs {
            let key = try #require(kv["key"]?.stringValue)
            let ours = try #require(file.metadata[key])
            let types = kv["types"]?.arrayValue?.compactMap { $0.intValue }.map(Int.init)
            #expect(typePath(ours) == types, "\(key)", sourceLocation: sourceLocation)
            #expect(
                same(ours, try #require(kv["value"])), "\(key): \(ours)",
                sourceLocation: sourceLocation)
        }
        let tensors = try #require(listing["tensors"]?.arrayValue)
        try #require(tensors.count == file.tensors.count, sourceLocation: sourceLocation)
        for (t, ours) in zip(tensors, file.tensors) {
            #expect(t["name"]?.stringValue == ours.name, sourceLocation: sourceLocation)
            #expect(
                t["type"]?.stringValue == ours.type.description, "\(ours.name)",
                sourceLocation: sourceLocation)
            let ne = t["ne"]?.arrayValue?.compactMap { $0.intValue }.map(Int.init)
            #expect(
                ne.map { Array($0.reversed()) } == ours.shape, "\(ours.name)",
                sourceLocation: sourceLocation)
            #expect(
                t["data_offset"]?.intValue == Int64(ours.location.offset), "\(ours.name)",
                sourceLocation: sourceLocation)
            #expect(
                t["n_bytes"]?.intValue == Int64(ours.byteCount), "\(ours.name)",
                sourceLocation: sourceLocation)
            let hex = try file.bytes(of: ours).bytes.map { String(format: "%02x", $0) }.joined()
            #expect(t["hex"]?.stringValue == hex, "\(ours.name)", sourceLocation: sourceLocation)
        }
    }
}

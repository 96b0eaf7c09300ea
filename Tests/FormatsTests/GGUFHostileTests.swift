import Formats
import Foundation
import Testing
import TestSupport

/// Hostile GGUF files built byte by byte: each must fail with the offset and field at fault.
@Suite("GGUF hostile input")
struct GGUFHostileTests {
    @Test("Bad magic")
    func badMagic() {
        var b = GGUFBytes()
        b.raw(Array("GGUX".utf8))
        b.u32(3)
        b.zeros(16)
        expectGGUFError(offset: 0, field: "header.magic", "bad magic") { () throws(FormatError) in
            try b.open()
        }
    }

    @Test(
        "Versions 0, 1, 4, 99 are refused, also byte-swapped (big-endian)",
        arguments: [
            (UInt32(0), "version 0"), (1, "v1"), (4, "version 4"), (99, "version 99"),
            (0x0100_0000, "v1 (big-endian)"), (0x0400_0000, "version 4 (big-endian)"),
            (0x0001_0000, "version 256 (big-endian)"),
        ])
    func versions(version: UInt32, message: String) {
        let b = GGUFBytes.header(version: version, tensors: 0, kvs: 0)
        expectGGUFError(offset: 4, field: "header.version", message) { () throws(FormatError) in
            try b.open()
        }
    }

    @Test(
        "Huge or negative counts fail before anything is allocated",
        arguments: [
            (UInt64(1) << 60, UInt64(0), 8, "header.tensor_count", "tensor infos need"),
            (0, UInt64.max, 16, "header.kv_count", "is negative"),
            (0, UInt64(1) << 62, 16, "header.kv_count", "key/values need"),
            (UInt64.max >> 1, 0, 8, "header.tensor_count", "tensor infos need"),
        ])
    func hugeCounts(tensors: UInt64, kvs: UInt64, offset: Int, field: String, message: String) {
        var b = GGUFBytes.header(tensors: tensors, kvs: kvs)
        b.zeros(64)
        expectGGUFError(offset: offset, field: field, message) { () throws(FormatError) in
            try b.open()
        }
    }

    @Test("A string longer than the file, or than GGUF_MAX_STRING_LENGTH")
    func stringLengths() {
        var b = GGUFBytes.header(tensors: 0, kvs: 1)
        b.u64(1000)
        b.raw(Array("abc".utf8))
        b.zeros(16)
        expectGGUFError(offset: 32, field: "kv[0].key", "truncated: needs 1000") {
            () throws(FormatError) in try b.open()
        }

        var c = GGUFBytes.header(tensors: 0, kvs: 1)
        c.string("k")
        c.u32(8)
        c.u64((1 << 30) + 1)
        c.zeros(16)
        expectGGUFError(offset: 37, field: "k.length", "exceeds 1073741824") {
            () throws(FormatError) in try c.open()
        }
    }

    @Test("Invalid UTF-8 in a key")
    func invalidUTF8() {
        var b = GGUFBytes.header(tensors: 0, kvs: 1)
        b.u64(2)
        b.raw([0xC3, 0x28])
        b.u32(0)
        b.u8(0)
        expectGGUFError(offset: 32, field: "kv[0].key", "invalid UTF-8") { () throws(FormatError) in
            try b.open()
        }
    }

    @Test("A value type outside 0...12", arguments: [UInt32(13), 0xFFFF_FFFF])
    func badValueType(type: UInt32) {
        var b = GGUFBytes.header(tensors: 0, kvs: 1)
        b.string("key")
        b.u32(type)
        b.zeros(8)
        expectGGUFError(offset: 35, field: "kv[0].type", "invalid value type") {
            () throws(FormatError) in try b.open()
        }
    }

    @Test("A bool byte other than 0 or 1")
    func badBool() {
        var b = GGUFBytes.header(tensors: 0, kvs: 1)
        b.string("b")
        b.u32(7)
        b.u8(2)
        expectGGUFError(offset: 37, field: "b", "neither 0 nor 1") { () throws(FormatError) in
            try b.open()
        }
    }

    @Test("Empty and duplicate keys")
    func keys() {
        var b = GGUFBytes.header(tensors: 0, kvs: 2)
        b.kvU32("a.b", 1)
        let second = b.count
        b.kvU32("a.b", 2)
        expectGGUFError(offset: second, field: "kv[1].key", "duplicate key 'a.b'") {
            () throws(FormatError) in try b.open()
        }

        var c = GGUFBytes.header(tensors: 0, kvs: 1)
        c.kvU32("", 1)
        expectGGUFError(offset: 24, field: "kv[0].key", "empty") { () throws(FormatError) in
            try c.open()
        }
    }

    @Test("Arrays nested deeper than the cap")
    func deepNesting() {
        var b = GGUFBytes.header(tensors: 0, kvs: 1)
        b.string("deep")
        b.u32(9)  // ARRAY
        for _ in 0..<GGUFLimits.maxArrayDepth {  // each level: element type ARRAY, one element
            b.u32(9)
            b.u64(1)
        }
        let tooDeep = b.count
        b.u32(4)
        b.u64(1)
        b.u32(7)
        let field = "deep" + String(repeating: "[0]", count: GGUFLimits.maxArrayDepth) + ".type"
        expectGGUFError(offset: tooDeep, field: field, "nested deeper") { () throws(FormatError) in
            try b.open()
        }
    }

    @Test(
        "Array counts over GGUF_MAX_ARRAY_ELEMENTS or the bytes left",
        arguments: [(UInt64(1) << 31, "exceed 1073741824"), (UInt64(1) << 29, "truncated")])
    func arrayCounts(count: UInt64, message: String) {
        var b = GGUFBytes.header(tensors: 0, kvs: 1)
        b.string("arr")
        b.u32(9)
        b.u32(4)  // UINT32 elements
        let at = b.count
        b.u64(count)
        b.zeros(64)
        expectGGUFError(offset: at, field: "arr.count", message) { () throws(FormatError) in
            try b.open()
        }
    }

    @Test(
        "general.alignment must be a UINT32 non-zero power of two",
        arguments: [
            (UInt32(4), UInt64(48), "power of two"), (4, 0, "power of two"),
            (10, 64, "must be UINT32"),
        ])
    func badAlignment(type: UInt32, value: UInt64, message: String) {
        var b = GGUFBytes.header(tensors: 0, kvs: 1)
        b.string("general.alignment")
        b.u32(type)
        let at = b.count
        if type == 4 { b.u32(UInt32(value)) } else { b.u64(value) }
        expectGGUFError(offset: at, field: "general.alignment", message) { () throws(FormatError) in
            try b.open()
        }
    }

    /// A file with one tensor info whose fields are given; returns bytes and the info's start.
    static func oneTensor(
        name: String = "w", ne: [Int64], type: UInt32 = 0, offset: UInt64 = 0,
        dataBytes: Int = 64
    ) -> (GGUFBytes, Int) {
        var b = GGUFBytes.header(tensors: 1, kvs: 0)
        let start = b.count
        b.tensorInfo(name, ne: ne, type: type, offset: offset)
        b.pad()
        b.zeros(dataBytes)
        return (b, start)
    }

    @Test("n_dims over GGML_MAX_DIMS")
    func tooManyDims() {
        let (b, start) = Self.oneTensor(ne: [1, 1, 1, 1, 1])
        expectGGUFError(offset: start + 9, field: "tensor_infos[0].n_dims", "n_dims 5 exceeds 4") {
            () throws(FormatError) in try b.open()
        }
    }

    @Test("Negative ne, and ne whose product overflows")
    func badNe() {
        let (b, start) = Self.oneTensor(ne: [4, -1])
        expectGGUFError(offset: start + 13 + 8, field: "tensor_infos[0].ne[1]", "is negative") {
            () throws(FormatError) in try b.open()
        }
        let (c, s2) = Self.oneTensor(ne: [1 << 32, 1 << 32])
        expectGGUFError(offset: s2 + 13 + 8, field: "tensor_infos[0].ne[1]", "overflows") {
            () throws(FormatError) in try c.open()
        }
    }

    @Test("Unknown or removed ggml type ids", arguments: [UInt32(4), 5, 31, 36, 43, 1000])
    func unknownType(id: UInt32) {
        let (b, start) = Self.oneTensor(ne: [32], type: id)
        expectGGUFError(
            offset: start + 13 + 8, field: "tensor_infos[0].type", "unknown ggml type id \(id)"
        ) { () throws(FormatError) in try b.open() }
    }

    @Test("ne[0] not a multiple of the block size")
    func partialBlock() {
        let (b, start) = Self.oneTensor(ne: [33], type: 8)  // Q8_0: blocks of 32
        expectGGUFError(offset: start + 13, field: "tensor_infos[0].ne[0]", "block size 32") {
            () throws(FormatError) in try b.open()
        }
    }

    @Test("Tensor names of 64 bytes (GGML_MAX_NAME) and more")
    func longName() {
        let (b, start) = Self.oneTensor(name: String(repeating: "n", count: 64), ne: [1])
        expectGGUFError(offset: start, field: "tensor_infos[0].name.length", "exceeds 63") {
            () throws(FormatError) in try b.open()
        }
        let (ok, _) = Self.oneTensor(name: String(repeating: "n", count: 63), ne: [1])
        #expect(throws: Never.self) { try ok.open() }
    }

    @Test("A misaligned offset")
    func misaligned() {
        let (b, start) = Self.oneTensor(ne: [2], offset: 8)
        expectGGUFError(
            offset: start + 25, field: "tensor_infos[0].offset",
            "not a multiple of the alignment 32"
        ) { () throws(FormatError) in try b.open() }
    }

    @Test("Tensor data past the end of the file")
    func pastEOF() {
        let (b, _) = Self.oneTensor(ne: [1024], dataBytes: 100)
        expectGGUFError(
            offset: 64, field: "tensor 'w' data", "truncated: needs 4096 bytes, 100 left"
        ) { () throws(FormatError) in try b.open() }
    }

    /// Two F32 tensors of 8 elements (32 bytes each); the second at `offset`.
    static func twoTensors(second offset: UInt64, names: (String, String) = ("a", "b")) -> (
        GGUFBytes, Int, Int
    ) {
        var b = GGUFBytes.header(tensors: 2, kvs: 0)
        b.tensorInfo(names.0, ne: [8], type: 0, offset: 0)
        let second = b.count
        b.tensorInfo(names.1, ne: [8], type: 0, offset: offset)
        b.pad()
        b.zeros(128)
        return (b, second, second + 8 + names.1.utf8.count + 4 + 8 + 4)
    }

    @Test(
        "Overlapping tensors and gaps break ggml's contiguity rule",
        arguments: [(UInt64(0), "offset 0, expected 32"), (64, "offset 64, expected 32")])
    func notContiguous(offset: UInt64, message: String) {
        let (b, _, offsetField) = Self.twoTensors(second: offset)
        expectGGUFError(offset: offsetField, field: "tensor_infos[1].offset", message) {
            () throws(FormatError) in try b.open()
        }
        let (ok, _, _) = Self.twoTensors(second: 32)
        #expect(throws: Never.self) { try ok.open() }
    }

    @Test("Duplicate tensor names")
    func duplicateNames() {
        let (b, second, _) = Self.twoTensors(second: 32, names: ("same", "same"))
        expectGGUFError(
            offset: second, field: "tensor_infos[1].name", "duplicate tensor name 'same'"
        ) { () throws(FormatError) in try b.open() }
    }

    @Test("Flipped and truncated bytes either open or throw FormatError, never crash")
    func mutations() throws {
        for name in ["all_types", "example", "aligned64", "big_endian"] {
            let original = try Array(
                Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("gguf/\(name).gguf"))))
            let clean = try GGUFFile(buffer: ByteBuffer(copying: original))
            let headerEnd = min(clean.dataOffset + 64, original.count)
            var opened = 0, failed = 0
            func attempt(_ bytes: [UInt8]) {
                do {
                    let f = try GGUFFile(buffer: ByteBuffer(copying: bytes, name: "mutant.gguf"))
                    for t in f.tensors { _ = try f.bytes(of: t).raw.reduce(0, &+) }
                    opened += 1
                } catch {
                    #expect(error.file == "mutant.gguf")
                    #expect(error.offset.map { $0 >= 0 && $0 <= bytes.count } ?? true, "\(error)")
                    failed += 1
                }
            }
            for i in 0..<headerEnd {
                for v: UInt8 in [0x00, 0xFF, original[i] ^ 0x80, original[i] &+ 1]
                where v != original[i] {
                    var m = original
                    m[i] = v
                    attempt(m)
                }
            }
            for n in 0..<original.count { attempt(Array(original[..<n])) }
            #expect(failed > 0 && opened > 0)
        }
    }
}

import Formats
import Foundation
import Testing
import TestSupport

/// Big-endian GGUF (formats-gguf.md §1.6): gguf-py's `GGUFEndian.BIG` fixture against gguf-py's
/// reading of it and against its little-endian twin; hostile big-endian headers.
@Suite("GGUF big-endian")
struct GGUFBigEndianTests {
    static let bigPath = TestPaths.fixture("gguf/big_endian.gguf")
    static let twinPath = TestPaths.fixture("gguf/big_endian_le.gguf")

    @Test("Reads gguf-py's big-endian file: the KVs, types, tensors and values gguf-py reads")
    func matchesGGUFPy() throws {
        let file = try GGUFFile(path: Self.bigPath)
        #expect(file.isBigEndian)
        #expect(file.version == 3)
        #expect(file.alignment == 64)
        let listing = try GGUFListing.load(TestPaths.fixture("gguf/big_endian.json"))
        #expect(listing["big_endian"] == .bool(true))
        try GGUFListing.check(file, against: listing)
        #expect(listing["data_offset"]?.intValue == Int64(file.dataOffset))
    }

    @Test("A big-endian file reads as its little-endian twin, value for value")
    func sameAsTwin() throws {
        let big = try GGUFFile(path: Self.bigPath)
        let twin = try GGUFFile(path: Self.twinPath)
        #expect(!twin.isBigEndian)
        #expect(big.metadata == twin.metadata)
        #expect(big.metadata["t.u64"] == .uint64(18_000_000_000_000_000_001))
        #expect(big.metadata["t.f64"] == .float64(-1.0e300))
        #expect(
            big.metadata["t.arr_u16"] == .array([.uint16(1), .uint16(65535)], elementType: .uint16))
        #expect(big.dataOffset == twin.dataOffset)
        try #require(big.tensors.count == twin.tensors.count)
        for (b, t) in zip(big.tensors, twin.tensors) {
            #expect(b.name == t.name)
            #expect(b.type == t.type)
            #expect(b.shape == t.shape)
            #expect(b.byteCount == t.byteCount)
            #expect(b.location.offset == t.location.offset)
            #expect(b.location.bigEndian == (b.type.dense != nil), "\(b.name)")
            #expect(!t.location.bigEndian)
            #expect(try big.bytes(of: b).bytes == twin.bytes(of: t).bytes, "\(b.name)")
        }
    }

    @Test("Dense tensors come out as little-endian values; blocks are slices of the map")
    func tensorValues() throws {
        let big = try GGUFFile(path: Self.bigPath)
        func values<T: FixedWidthInteger>(_ name: String, _: T.Type) throws -> [T] {
            let t = try #require(big.tensor(named: name))
            return try big.bytes(of: t).withBytes { raw in
                (0..<(raw.count / MemoryLayout<T>.size)).map {
                    T(
                        littleEndian: raw.loadUnaligned(
                            fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self))
                }
            }
        }
        #expect(
            try values("f32.weight", UInt32.self).map(Float.init(bitPattern:)) == [
                -2.5, -1.5, -0.5, 0.5, 1.5, 2.5,
            ])
        #expect(
            try values("f16.weight", UInt16.self).map(Float16.init(bitPattern:)) == [
                1, -2, 65504, 6e-8,
            ])
        #expect(try values("bf16.weight", UInt16.self) == [0x3F80, 0xC060, 0x7F7F, 0x0001])
        #expect(
            try values("f64.weight", UInt64.self).map(Double.init(bitPattern:)) == [1, -2e-300])
        #expect(try values("i8.weight", Int8.self) == [-128, 0, 127])
        #expect(try values("i16.weight", Int16.self) == [-2, 258])
        #expect(try values("i32.weight", Int32.self) == [7, -70000])
        #expect(try values("i64.weight", Int64.self) == [(1 << 40) + 3, -5])
        // Quantized blocks (and I8) are the file's bytes, not a copy.
        for name in ["q8_0.weight", "q4_k.weight", "i8.weight"] {
            let t = try #require(big.tensor(named: name))
            let slice = try big.bytes(of: t)
            #expect(slice.buffer === big.buffer, "\(name)")
            #expect(slice.offset == t.location.offset)
        }
    }

    @Test("Converting a big-endian file writes its little-endian twin byte for byte")
    func writesLittleEndian() throws {
        let big = try GGUFFile(path: Self.bigPath)
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var w = GGUFWriter(path: dir + "/out.gguf", alignment: big.alignment)
        try w.begin(metadata: big.metadata, plan: big.tensors)
        for t in big.tensors {
            // A swapped copy lives only as long as its slice: keep the slice while writing.
            let slice = try big.bytes(of: t)
            try slice.withBytes { (raw) throws(FormatError) in try w.write(t, bytes: raw) }
        }
        try w.commit()
        let out = try Data(contentsOf: URL(fileURLWithPath: dir + "/out.gguf"))
        #expect(out == (try Data(contentsOf: URL(fileURLWithPath: Self.twinPath))))
        #expect(try !GGUFFile(path: dir + "/out.gguf").isBigEndian)
    }

    @Test("A byte-swapped version 3 with zero counts opens as an empty big-endian file")
    func emptyBigEndian() throws {
        let b = GGUFBytes.header(tensors: 0, kvs: 0, bigEndian: true)
        let file = try b.open()
        #expect(file.isBigEndian && file.version == 3)
        #expect(file.metadata.isEmpty && file.tensors.isEmpty && file.dataOffset == 24)

        var c = GGUFBytes.header(version: 2, tensors: 0, kvs: 1, bigEndian: true)
        c.kvU32("general.alignment", 64)
        let v2 = try c.open()
        #expect(v2.version == 2 && v2.alignment == 64)
    }

    /// Hostile headers, each built in the byte order given: the error must not depend on it.
    static let hostile: [(String, @Sendable (Bool) -> GGUFBytes)] = [
        (
            "huge tensor count",
            { be in
                var b = GGUFBytes.header(tensors: 1 << 60, kvs: 0, bigEndian: be)
                b.zeros(64)
                return b
            }
        ),
        (
            "negative kv count",
            { be in
                var b = GGUFBytes.header(tensors: 0, kvs: .max, bigEndian: be)
                b.zeros(64)
                return b
            }
        ),
        (
            "huge kv count",
            { be in
                var b = GGUFBytes.header(tensors: 0, kvs: 1 << 62, bigEndian: be)
                b.zeros(64)
                return b
            }
        ),
        (
            "string past the end",
            { be in
                var b = GGUFBytes.header(tensors: 0, kvs: 1, bigEndian: be)
                b.u64(1000)
                b.raw(Array("abc".utf8))
                return b
            }
        ),
        (
            "string over 1 GiB",
            { be in
                var b = GGUFBytes.header(tensors: 0, kvs: 1, bigEndian: be)
                b.string("k")
                b.u32(8)
                b.u64((1 << 30) + 1)
                b.zeros(16)
                return b
            }
        ),
        (
            "value type 13",
            { be in
                var b = GGUFBytes.header(tensors: 0, kvs: 1, bigEndian: be)
                b.string("key")
                b.u32(13)
                b.zeros(8)
                return b
            }
        ),
        (
            "array count over the cap",
            { be in
                var b = GGUFBytes.header(tensors: 0, kvs: 1, bigEndian: be)
                b.string("arr")
                b.u32(9)
                b.u32(4)
                b.u64(1 << 31)
                b.zeros(64)
                return b
            }
        ),
        (
            "array count over the bytes left",
            { be in
                var b = GGUFBytes.header(tensors: 0, kvs: 1, bigEndian: be)
                b.string("arr")
                b.u32(9)
                b.u32(10)
                b.u64(1 << 20)
                b.zeros(64)
                return b
            }
        ),
        (
            "alignment 48",
            { be in
                var b = GGUFBytes.header(tensors: 0, kvs: 1, bigEndian: be)
                b.kvU32("general.alignment", 48)
                return b
            }
        ),
        ("n_dims 5", { be in oneTensor(be, ne: [1, 1, 1, 1, 1]) }),
        ("negative ne", { be in oneTensor(be, ne: [4, -1]) }),
        ("ne product overflows", { be in oneTensor(be, ne: [1 << 32, 1 << 32]) }),
        ("unknown type", { be in oneTensor(be, ne: [32], type: 1000) }),
        ("partial block", { be in oneTensor(be, ne: [33], type: 8) }),
        ("misaligned offset", { be in oneTensor(be, ne: [2], offset: 8) }),
        ("data past the end", { be in oneTensor(be, ne: [1024], dataBytes: 100) }),
    ]

    static func oneTensor(
        _ bigEndian: Bool, ne: [Int64], type: UInt32 = 0, offset: UInt64 = 0, dataBytes: Int = 64
    ) -> GGUFBytes {
        var b = GGUFBytes.header(tensors: 1, kvs: 0, bigEndian: bigEndian)
        b.tensorInfo("w", ne: ne, type: type, offset: offset)
        b.pad()
        b.zeros(dataBytes)
        return b
    }

    @Test(
        "Every hostile header fails in big-endian exactly as in little-endian",
        arguments: hostile.indices)
    func hostileSameError(index: Int) throws {
        let (label, build) = Self.hostile[index]
        func failure(_ bigEndian: Bool) -> FormatError? {
            do {
                _ = try build(bigEndian).open()
                return nil
            } catch { return error }
        }
        let little = try #require(failure(false), "\(label): little-endian opened")
        let big = try #require(failure(true), "\(label): big-endian opened")
        #expect(big.offset == little.offset, "\(label)")
        #expect(big.field == little.field, "\(label)")
        #expect(big.description == little.description, "\(label)")
        #expect(big.file == "hostile.gguf")
    }

    @Test("Every truncation of the big-endian file before its last tensor's end fails")
    func truncations() throws {
        let original = try Array(Data(contentsOf: URL(fileURLWithPath: Self.bigPath)))
        let file = try GGUFFile(buffer: ByteBuffer(copying: original))
        let last = try #require(file.tensors.last)
        let end = last.location.offset + last.byteCount
        for n in 0..<end {
            #expect(throws: FormatError.self, "\(n) bytes") {
                try GGUFFile(buffer: ByteBuffer(copying: original[..<n], name: "cut.gguf"))
            }
        }
        #expect(try GGUFFile(buffer: ByteBuffer(copying: original[..<end])).isBigEndian)
    }

    @Test("Mutated big-endian files open with whole dense tensors or throw FormatError")
    func mutations() throws {
        let original = try Array(Data(contentsOf: URL(fileURLWithPath: Self.bigPath)))
        let clean = try GGUFFile(buffer: ByteBuffer(copying: original))
        var opened = 0, failed = 0, stillBig = 0
        for i in 0..<min(clean.dataOffset + 64, original.count) {
            for v: UInt8 in [0x00, 0xFF, original[i] ^ 0x01, original[i] ^ 0x80]
            where v != original[i] {
                var m = original
                m[i] = v
                do {
                    let f = try GGUFFile(buffer: ByteBuffer(copying: m, name: "mutant.gguf"))
                    for t in f.tensors { #expect(try f.bytes(of: t).count == t.byteCount) }
                    if f.isBigEndian { stillBig += 1 }
                    opened += 1
                } catch {
                    #expect(error.file == "mutant.gguf")
                    #expect(error.offset.map { $0 >= 0 && $0 <= m.count } ?? true, "\(error)")
                    failed += 1
                }
            }
        }
        #expect(failed > 0 && opened > 0 && stillBig > 0)
    }
}

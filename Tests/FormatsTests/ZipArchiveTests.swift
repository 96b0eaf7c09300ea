import Foundation
import Formats
import Testing
import TestSupport

@Suite("ZIP archive reader")
struct ZipArchiveTests {
    static let fixtures = ["zip64.zip", "mixed.zip", "savez.npz", "savez_compressed.npz", "prefixed.npz"]

    @Test("entries and data match Python's zipfile", arguments: fixtures)
    func matchesZipfile(file: String) throws {
        let expected = try #require(NumPyManifest.section("zip")[file] as? [[String: Any]])
        let zip = try ZipArchive(path: NumPyManifest.path(file))
        #expect(zip.entries.count == expected.count)
        for (e, x) in zip.entries.enumerated().map({ ($0.element, expected[$0.offset]) }) {
            #expect(e.name == x["name"] as? String)
            #expect(Int(e.method) == x["method"] as? Int)
            #expect(e.compressedSize == x["compressed"] as? Int)
            #expect(e.uncompressedSize == x["uncompressed"] as? Int)
            #expect(Int(e.crc32) == x["crc"] as? Int)
            #expect(e.localHeaderOffset == x["header_offset"] as? Int)
            #expect(zip.entry(named: e.name) == e)
            let data = try zip.data(of: e)
            #expect(data.bytes == [UInt8](hex: try #require(x["hex"] as? String)))
            if e.method == ZipEntry.Method.stored {
                #expect(data.buffer === zip.buffer, "stored members are slices, not copies")
                #expect(data.offset == e.dataOffset)
            }
        }
        #expect(zip.entry(named: "missing") == nil)
    }

    @Test("a hand-built archive, with and without a prefix, reads back")
    func handBuilt() throws {
        for prefix in [[UInt8](), Array("MZ-stub".utf8)] {
            let z = ZipBytes([("a.bin", [1, 2, 3]), ("dir/b", [])], prefix: prefix)
            let zip = try ZipArchive(buffer: z.buffer)
            #expect(zip.entries.map(\.name) == ["a.bin", "dir/b"])
            #expect(zip.entries.map(\.localHeaderOffset) == z.localOffsets)
            #expect(try zip.data(of: zip.entries[0]).bytes == [1, 2, 3])
            #expect(try zip.data(of: zip.entries[1]).count == 0)
        }
    }

    @Test("an empty archive has no entries")
    func empty() throws {
        let zip = try ZipArchive(buffer: ZipBytes([]).buffer)
        #expect(zip.entries.isEmpty)
    }

    @Test("hostile end records are refused at their offset")
    func hostileEnd() throws {
        let z = ZipBytes([("a", [9, 9])])
        // Truncated EOCD: the record no longer ends at the end of the file.
        var cut = z.bytes
        cut.removeLast()
        let e1 = try #require(formatError { _ = try ZipArchive(buffer: ByteBuffer(copying: cut)) })
        #expect(e1.field == "end_of_central_directory")
        // Shorter than an end record.
        let e2 = try #require(formatError { _ = try ZipArchive(buffer: ByteBuffer(copying: [0x50, 0x4B])) })
        #expect(e2.reason == FormatError.Reason.truncated(needed: 22, available: 2))
        // Central directory offset out of range.
        var far = z.bytes
        far.put(UInt32(100_000), at: z.endOffset + 16)
        let e3 = try #require(formatError { _ = try ZipArchive(buffer: ByteBuffer(copying: far)) })
        #expect(e3.field == "end_of_central_directory.central_directory_offset")
        #expect(e3.offset == z.endOffset + 16)
        // More entries than the central directory can hold.
        var many = z.bytes
        many.put(UInt16(9), at: z.endOffset + 8)
        many.put(UInt16(9), at: z.endOffset + 10)
        let e4 = try #require(formatError { _ = try ZipArchive(buffer: ByteBuffer(copying: many)) })
        #expect(e4.field == "end_of_central_directory.total_entries")
        // Multi-disk.
        var disk = z.bytes
        disk.put(UInt16(1), at: z.endOffset + 4)
        let e5 = try #require(formatError { _ = try ZipArchive(buffer: ByteBuffer(copying: disk)) })
        guard case .unsupported = e5.reason else { Issue.record("\(e5)"); return }
    }

    @Test("hostile central entries are refused with their field and offset")
    func hostileEntries() throws {
        let z = ZipBytes([("a.npy", [1, 2, 3, 4]), ("b.npy", [5])])
        let cd1 = z.centralOffsets[1]
        func open(_ b: [UInt8]) -> FormatError? { formatError { _ = try ZipArchive(buffer: ByteBuffer(copying: b)) } }

        var big = z.bytes
        big.put(UInt32(1 << 30), at: cd1 + 20)
        big.put(UInt32(1 << 30), at: cd1 + 24)
        let e1 = try #require(open(big))
        #expect(e1.field == "central_directory[1].compressed_size")
        #expect(e1.offset == cd1 + 20)

        var overlap = z.bytes
        overlap.put(UInt32(30), at: z.centralOffsets[0] + 20)
        overlap.put(UInt32(30), at: z.centralOffsets[0] + 24)
        let e2 = try #require(open(overlap))
        #expect(e2.field == "central_directory[0].compressed_size")
        #expect(e2.offset == z.dataOffsets[0])

        var encrypted = z.bytes
        encrypted.put(UInt16(1), at: cd1 + 8)
        let e3 = try #require(open(encrypted))
        #expect(e3.field == "central_directory[1].flags")
        #expect(e3.offset == cd1 + 8)
        #expect({ if case .unsupported = e3.reason { true } else { false } }())

        var method = z.bytes
        method.put(UInt16(12), at: cd1 + 10)
        let e4 = try #require(open(method))
        #expect(e4.field == "central_directory[1].compression_method")
        #expect(e4.offset == cd1 + 10)

        var localName = z.bytes
        localName[z.localOffsets[1] + 30] = UInt8(ascii: "x")
        let e5 = try #require(open(localName))
        #expect(e5.field == "central_directory[1].local_header.file_name")
        #expect(e5.offset == z.localOffsets[1] + 30)

        var signature = z.bytes
        signature[z.localOffsets[1]] = 0
        let e6 = try #require(open(signature))
        #expect(e6.field == "central_directory[1].local_header.signature")
        #expect(e6.offset == z.localOffsets[1])

        var offset = z.bytes
        offset.put(UInt32(cd1), at: cd1 + 42)
        let e7 = try #require(open(offset))
        #expect(e7.field == "central_directory[1].local_header_offset")
        #expect(e7.offset == cd1 + 42)

        var stored = z.bytes
        stored.put(UInt32(2), at: cd1 + 24)
        let e8 = try #require(open(stored))
        #expect(e8.field == "central_directory[1].uncompressed_size")

        let dup = ZipBytes([("a", [1]), ("a", [2])])
        let e9 = try #require(open(dup.bytes))
        #expect(e9.field == "central_directory[1].file_name")
        #expect(e9.offset == dup.centralOffsets[1] + 46)

        var zip64 = z.bytes
        zip64.put(UInt32.max, at: cd1 + 20)
        let e10 = try #require(open(zip64))
        #expect(e10.field == "central_directory[1].extra_field")
    }

    @Test("a CRC mismatch is reported at the member's data")
    func crcMismatch() throws {
        var z = ZipBytes([("a", [1, 2, 3])])
        z.bytes[z.dataOffsets[0] + 1] ^= 0x40
        let zip = try ZipArchive(buffer: z.buffer)
        let e = try #require(formatError { _ = try zip.data(of: zip.entries[0]) })
        #expect(e.offset == z.dataOffsets[0])
        #expect(e.field == "'a'.data")
    }

    /// savez_compressed.npz with one central-directory size patched.
    func patchedDeflate(uncompressed: UInt32) throws -> (ZipArchive?, FormatError?, Int) {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: NumPyManifest.path("savez_compressed.npz"))))
        let original = try ZipArchive(path: NumPyManifest.path("savez_compressed.npz"))
        // Find the first central entry: the end record's central directory offset.
        let end = bytes.count - 22
        let cd = Int(bytes[end + 16]) | Int(bytes[end + 17]) << 8 | Int(bytes[end + 18]) << 16
        bytes.put(uncompressed, at: cd + 24)
        do {
            return (try ZipArchive(buffer: ByteBuffer(copying: bytes)), nil, original.entries[0].dataOffset)
        } catch { return (nil, error, cd + 24) }
    }

    @Test("a deflated member whose uncompressed size lies is refused")
    func deflateSizeLies() throws {
        let original = try ZipArchive(path: NumPyManifest.path("savez_compressed.npz"))
        let real = UInt32(original.entries[0].uncompressedSize)
        for lie in [real - 1, real + 1, 1] {
            let (zip, _, dataOffset) = try patchedDeflate(uncompressed: lie)
            let z = try #require(zip)
            let e = try #require(formatError { _ = try z.data(of: z.entries[0]) })
            #expect(e.field == "'\(z.entries[0].name)'.data")
            #expect(e.offset ?? 0 >= dataOffset)
        }
        // A bomb's claim (far more than 1032:1) is refused before anything is allocated.
        let (zip, error, at) = try patchedDeflate(uncompressed: 0xFFFF_FFF0)
        #expect(zip == nil)
        let e = try #require(error)
        #expect(e.offset == at)
        #expect({ if case .limitExceeded = e.reason { true } else { false } }())
    }

    @Test("flipped or truncated bytes never crash the reader", arguments: fixtures)
    func mutations(file: String) throws {
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: NumPyManifest.path(file))))
        func exercise(_ b: [UInt8]) -> Bool {
            do {
                let zip = try ZipArchive(buffer: ByteBuffer(copying: b))
                for e in zip.entries { _ = try? zip.data(of: e) }
                return true
            } catch { return false }
        }
        var refused = 0
        for i in 0..<original.count {
            var b = original
            b[i] ^= 0xFF
            if !exercise(b) { refused += 1 }
            var c = original
            c[i] = UInt8(truncatingIfNeeded: i &* 31)
            _ = exercise(c)
        }
        for n in stride(from: 0, to: original.count, by: 7) {
            #expect(!exercise(Array(original[..<n])), "truncated to \(n) bytes must be refused")
        }
        #expect(refused > 0)
    }
}

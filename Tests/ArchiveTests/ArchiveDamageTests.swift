import Archive
import Foundation
import Formats
import Testing
import TestSupport

@Suite("Archive damage")
struct ArchiveDamageTests {
    static let source = TestPaths.fixture("archive/hf")

    func packed() throws -> [UInt8] {
        try ArchiveTest.bytes(ArchiveTest.pack(Self.source).path)
    }

    /// Opens, verifies and extracts `bytes`; returns the error, or nil when all of it worked
    /// and the restored tree equals the source.
    func exercise(_ bytes: [UInt8]) -> FormatError? {
        do throws(FormatError) {
            let reader = try ArchiveReader(buffer: ByteBuffer(copying: bytes, name: "x.ckz"))
            try reader.verify()
            let dst = TestPaths.temporaryDirectory("ckz-out") + "/r"
            try reader.extract(to: dst)
            #expect(ArchiveTest.difference(Self.source, dst) == nil)
            try? FileManager.default.removeItem(atPath: dst)
            return nil
        } catch {
            return error
        }
    }

    @Test(
        "a flipped byte in a chunk payload is an error naming the chunk, its file and offset; nothing written"
    )
    func payloadFlip() throws {
        let archive = try ArchiveTest.pack(Self.source).path
        let reader = try ArchiveReader(path: archive)
        let i = try #require(reader.chunks.firstIndex { $0.isTensorData })
        let c = reader.chunks[i]
        var bytes = try ArchiveTest.bytes(archive)
        bytes[c.payloadOffset + c.payloadSize / 2] ^= 0x40
        let dir = TestPaths.temporaryDirectory("ckz-damage")
        let damaged = dir + "/d.ckz"
        try Data(bytes).write(to: URL(fileURLWithPath: damaged))
        let opened = try ArchiveReader(path: damaged)  // the tables are intact
        let e = try #require(throws: FormatError.self) { try opened.extract(to: dir + "/out") }
        #expect(e.field == "chunks[\(i)]")
        #expect(e.offset == c.payloadOffset)
        #expect(e.description.contains("model.safetensors"))
        #expect(e.description.contains("at offset \(c.fileOffset)"))
        #expect(ArchiveTest.files(dir) == ["d.ckz"])  // no output, no temporary left
    }

    @Test(
        "flipping bytes of the header and the index is detected", arguments: [0, 7, 8, 12, 16, 24])
    func headerFlip(_ at: Int) throws {
        var bytes = try packed()
        bytes[at] ^= 0x01
        let e = try #require(exercise(bytes))
        #expect(e.file == "x.ckz")
        #expect(e.offset != nil)
    }

    @Test("every flipped index byte fails the index CRC")
    func indexFlips() throws {
        let bytes = try packed()
        let indexOffset = Int(ArchiveTest.load(UInt64.self, bytes, 16))
        for at in indexOffset..<bytes.count {
            var b = bytes
            b[at] ^= 0x10
            let e = try #require(exercise(b))
            #expect(e.field == "index.crc32", "byte \(at): \(e)")
        }
    }

    @Test("truncation anywhere is an error, never a crash")
    func truncations() throws {
        let bytes = try packed()
        for n in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 300)) {
            #expect(exercise(Array(bytes[..<n])) != nil, "truncated to \(n)")
        }
    }

    @Test("huge counts and sizes in the tables are refused before any allocation")
    func hugeSizes() throws {
        let bytes = try packed()
        let cases: [(String, (inout [UInt8]) -> Void)] = [
            ("file_count", { ArchiveTest.store(UInt32.max, &$0, 0) }),
            ("chunk_count", { ArchiveTest.store(UInt64(1) << 60, &$0, 8) }),
            ("files[0].path_length", { ArchiveTest.store(UInt32.max, &$0, 16) }),
            (
                "chunks[0].raw_size",
                { ArchiveTest.store(UInt32.max, &$0, ArchiveTest.chunkEntryOffset($0, 0) + 4) }
            ),
            (
                "chunks[0].payload_offset",
                { ArchiveTest.store(UInt64.max, &$0, ArchiveTest.chunkEntryOffset($0, 0) + 8) }
            ),
            (
                "chunks[0].payload_size",
                { ArchiveTest.store(UInt32.max, &$0, ArchiveTest.chunkEntryOffset($0, 0) + 16) }
            ),
            ("chunks[0].codec", { $0[ArchiveTest.chunkEntryOffset($0, 0)] = 9 }),
            ("chunks[0].width", { $0[ArchiveTest.chunkEntryOffset($0, 0) + 1] = 3 }),
        ]
        for (field, edit) in cases {
            let e = try #require(exercise(ArchiveTest.editIndex(bytes, edit)), "\(field)")
            #expect(e.field == field, "\(field): \(e)")
        }
        // A file claiming more bytes than its chunks hold; a path escaping the destination.
        let size = try #require(
            exercise(
                ArchiveTest.editIndex(bytes) { idx in
                    let len = Int(ArchiveTest.load(UInt32.self, idx, 16))
                    ArchiveTest.store(UInt64(1) << 62, &idx, 16 + 4 + len)
                }))
        #expect(
            size.field?.hasPrefix("chunks[") == true || size.field?.hasPrefix("files[0]") == true,
            "\(size)")
        let escape = try #require(
            exercise(
                ArchiveTest.editIndex(bytes) { idx in
                    for k in 0..<3 { idx[20 + k] = Array("../".utf8)[k] }
                }))
        #expect(escape.field == "files[0].path", "\(escape)")
    }

    @Test("a stored CRC that does not match the chunk's bytes names the chunk")
    func chunkCRC() throws {
        let bytes = try packed()
        let edited = ArchiveTest.editIndex(bytes) { idx in
            let at = ArchiveTest.chunkEntryOffset(idx, 2) + 20
            ArchiveTest.store(ArchiveTest.load(UInt32.self, idx, at) ^ 1, &idx, at)
        }
        let e = try #require(exercise(edited))
        #expect(e.field == "chunks[2]")
        #expect(e.description.contains("crc32 mismatch"))
    }

    @Test("mutation robustness: flipped bytes anywhere give the original back or a FormatError")
    func mutations() throws {
        let bytes = try packed()
        var g = SystemRandomNumberGenerator()
        for at in stride(from: 0, to: bytes.count, by: 3) {
            var b = bytes
            b[at] ^= UInt8.random(in: 1...255, using: &g)
            _ = exercise(b)  // any success was compared with the source inside
        }
    }

    @Test("the CRCs the archive stores are standard CRC-32 of the raw bytes")
    func crcIsStandard() throws {
        let archive = try ArchiveTest.pack(Self.source).path
        let reader = try ArchiveReader(path: archive)
        for (i, f) in reader.files.enumerated() {
            let raw = try ArchiveTest.bytes(Self.source + "/" + f.path)
            for c in f.chunks {
                let e = reader.chunks[c]
                let part = Array(raw[e.fileOffset..<(e.fileOffset + e.rawSize)])
                #expect(
                    part.withUnsafeBytes { ArchiveTest.crc32($0) } == e.crc, "file \(i) chunk \(c)")
            }
        }
    }
}

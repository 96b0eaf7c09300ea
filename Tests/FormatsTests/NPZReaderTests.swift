import Foundation
import Formats
import Testing
import TestSupport

@Suite("npz reader")
struct NPZReaderTests {
    static let archives = ["savez", "savez_compressed", "positional", "prefixed", "zip64"]

    static func file(_ name: String) -> String {
        NumPyManifest.path(name == "zip64" ? "zip64.zip" : name + ".npz")
    }

    @Test("every archive reads value for value as numpy loads it", arguments: archives)
    func fixture(name: String) throws {
        let expected = try #require(NumPyManifest.section("npz")[name] as? [String: Any])
        let npz = try NPZFile(path: Self.file(name))
        #expect(npz.format == .npz)
        #expect(Set(npz.tensors.map(\.name)) == Set(expected.keys))
        for t in npz.tensors {
            let x = try #require(expected[t.name] as? [String: Any])
            #expect(t.type.description == x["dtype"] as? String)
            #expect(t.shape == x["shape"] as? [Int])
            let b = try npz.bytes(of: t)
            #expect(b.bytes == [UInt8](hex: try #require(x["hex"] as? String)), "\(t.name)")
            let entry = try #require(npz.archive.entries.first { $0.name == t.name + ".npy" })
            if entry.method == ZipEntry.Method.stored {
                #expect(b.buffer === npz.archive.buffer, "stored members are read in place")
            } else {
                #expect(b.buffer !== npz.archive.buffer)
            }
        }
    }

    @Test("savez keeps numpy's key order; non-array members are set aside")
    func orderAndOthers() throws {
        let npz = try NPZFile(path: Self.file("savez"))
        #expect(npz.tensors.map(\.name) == ["weight", "bias", "ids", "flag", "empty"])
        let mixed = try NPZFile(path: NumPyManifest.path("mixed.zip"))
        #expect(mixed.tensors.map(\.name) == ["ünïcode"])
        #expect(mixed.otherMembers == ["notes.txt"])
        let zip64 = try NPZFile(path: Self.file("zip64"))
        #expect(zip64.tensors.map(\.name) == ["d"])
        #expect(zip64.otherMembers == ["a.txt", "b/c.bin"])
    }

    static let good = NPYReaderTests.npy(
        "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", data: [1, 2])

    @Test("a member without .npy that starts with the npy magic is an array, as in numpy")
    func magicMember() throws {
        let z = ZipBytes([("plain", Self.good)])
        let npz = try NPZFile(buffer: z.buffer)
        #expect(npz.tensors.map(\.name) == ["plain"])
        #expect(try npz.bytes(of: npz.tensors[0]).bytes == [1, 2])
    }

    @Test("two members giving one tensor name are refused")
    func duplicateNames() throws {
        let z = ZipBytes([("a.npy", Self.good), ("a", Self.good)])
        let e = try #require(formatError { _ = try NPZFile(buffer: z.buffer) })
        #expect(e.field == "central_directory[1].file_name")
        #expect(e.offset == z.localOffsets[1])
    }

    @Test("a .npy member with a bad header is refused at its absolute offset")
    func badMember() throws {
        var member = Self.good
        let at = try #require(member.firstRange(of: Array("(2,)".utf8))?.lowerBound)
        member[at + 1] = UInt8(ascii: "x")
        let z = ZipBytes([("ok.npy", Self.good), ("bad.npy", member)])
        let e = try #require(formatError { _ = try NPZFile(buffer: z.buffer) })
        #expect(e.field == "'bad.npy'.header.shape[0]")
        #expect(e.offset == z.dataOffsets[1] + at + 1)
        let junk = ZipBytes([("junk.npy", Array("hello".utf8))])
        #expect(formatError { _ = try NPZFile(buffer: junk.buffer) }?.field == "'junk.npy'.magic")
    }

    @Test("a stored member with a flipped data byte fails its CRC when read")
    func crc() throws {
        var z = ZipBytes([("a.npy", Self.good)])
        z.bytes[z.dataOffsets[0] + Self.good.count - 1] ^= 1  // the last array byte
        let npz = try NPZFile(buffer: z.buffer)
        let e = try #require(formatError { _ = try npz.bytes(of: npz.tensors[0]) })
        #expect(e.offset == z.dataOffsets[0])
    }

    @Test("flipped bytes in a compressed npz never crash the reader")
    func mutations() throws {
        let original = try [UInt8](
            Data(contentsOf: URL(fileURLWithPath: Self.file("savez_compressed"))))
        var opened = 0
        for i in 0..<original.count {
            var b = original
            b[i] ^= 0x5A
            guard let npz = try? NPZFile(buffer: ByteBuffer(copying: b)) else { continue }
            opened += 1
            for t in npz.tensors { _ = try? npz.bytes(of: t) }
        }
        #expect(opened > 0)
    }
}

import Foundation
import Testing
import TestSupport

@testable import Formats

@Suite("OutputFile: disk reserved before the bytes, given back at commit")
struct OutputFileTests {
    func size(_ path: String) -> (bytes: Int, allocated: Int)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (Int(st.st_size), Int(st.st_blocks) * 512)
    }

    @Test("a reservation larger than what is written is given back; the file holds only its bytes")
    func reservationGivenBack() throws {
        let dir = TestPaths.temporaryDirectory("outputfile")
        defer { TestPaths.removeTemporary(dir) }
        let path = dir + "/out.bin"
        let out = try OutputFile(path: path)
        let reserved = 8 << 20
        try out.preallocate(reserved)
        // Where the file system reserves (ext4, xfs, tmpfs), the temporary already holds the blocks.
        let during = try #require(size(out.temporaryPath))
        #expect(during.bytes == 0)
        try out.write([UInt8](repeating: 7, count: 100_000))
        try out.commit()
        let after = try #require(size(path))
        #expect(after.bytes == 100_000)
        #expect(after.allocated < reserved)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(repeating: 7, count: 100_000))
        if during.allocated >= reserved {
            #expect(after.allocated <= 100_000 + (1 << 16))
        }
    }

    @Test("a file the disk cannot hold fails before any byte is written, naming the size; nothing is left")
    func tooLargeForTheDisk() throws {
        let dir = TestPaths.temporaryDirectory("outputfile")
        defer { TestPaths.removeTemporary(dir) }
        let path = dir + "/huge.bin"
        var message = ""
        do {
            let out = try OutputFile(path: path)
            try out.preallocate(1 << 60)  // an exabyte: ENOSPC or EFBIG on every file system
            Issue.record("an exabyte was reserved")
        } catch {
            message = "\(error)"
        }
        if !message.isEmpty {
            #expect(message.contains("not enough disk space for \(1 << 60) bytes"))
            #expect(message.contains(path))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test("the writers reserve their planned size: a GGUF and a safetensors file come out exact")
    func writersExact() throws {
        let dir = TestPaths.temporaryDirectory("outputfile")
        defer { TestPaths.removeTemporary(dir) }
        let t = try #require(TensorInfo(name: "w", type: .dense(.f32), shape: [1000]))
        let bytes = [UInt8](repeating: 1, count: 4000)
        var st = SafetensorsWriter(path: dir + "/a.safetensors")
        try st.begin(metadata: [:], plan: [t])
        try bytes.withUnsafeBytes { b in try st.write(t, bytes: b) }
        try st.commit()
        let layout = try #require(st.layout)
        #expect(size(dir + "/a.safetensors")?.bytes == layout.fileSize)
        #expect(try SafetensorsFile(path: dir + "/a.safetensors").tensors.map(\.name) == ["w"])

        var gg = GGUFWriter(path: dir + "/a.gguf")
        try gg.begin(metadata: [:], plan: [t])
        try bytes.withUnsafeBytes { b in try gg.write(t, bytes: b) }
        try gg.commit()
        let file = try GGUFFile(path: dir + "/a.gguf")
        #expect(file.tensors.map(\.name) == ["w"])
        let total = try #require(size(dir + "/a.gguf")).bytes
        #expect(total % 32 == 0)
        #expect(total == file.dataOffset + 4000 + (32 - 4000 % 32) % 32)
    }
}

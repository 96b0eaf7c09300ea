import Foundation
import Formats
import Testing
import TestSupport

/// Opening by path validates the header from a `pread` and maps the file only when a
/// tensor's bytes are first read: what a caller sees must not depend on when that happens.
@Suite("Safetensors: mapped on first read")
struct SafetensorsLazyTests {
    static let dtypesPath = TestPaths.fixture("safetensors/dtypes.safetensors")

    @Test("bytes read after the path is removed come from the file that was validated")
    func heldOpen() throws {
        let dir = TestPaths.temporaryDirectory("st-lazy")
        defer { TestPaths.removeTemporary(dir) }
        let path = dir + "/m.safetensors"
        try FileManager.default.copyItem(atPath: Self.dtypesPath, toPath: path)
        let file = try SafetensorsFile(path: path)
        let original = try SafetensorsFile(path: Self.dtypesPath)
        try FileManager.default.removeItem(atPath: path)
        // A different file at the same path must not be what gets mapped.
        try Data(repeating: 0, count: 1 << 16).write(to: URL(fileURLWithPath: path))
        #expect(file.tensors.count == original.tensors.count)
        for t in original.tensors {
            #expect(try file.bytes(of: t).bytes == original.bytes(of: t).bytes, "\(t.name)")
        }
        #expect(try file.buffer.count == file.fileSize)
    }

    @Test("threads reading at once share one mapping and see the same bytes")
    func concurrentFirstReads() throws {
        let file = try SafetensorsFile(path: Self.dtypesPath)
        let tensors = file.tensors
        let expected = try SafetensorsFile(path: Self.dtypesPath).buffer
        final class Results: @unchecked Sendable {
            var same = [Bool](repeating: false, count: 16)
            var equal = [Bool](repeating: false, count: 16)
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 16) { k in
            let t = tensors[k % tensors.count]
            guard let slice = try? file.bytes(of: t), let buffer = try? file.buffer else { return }
            results.same[k] = slice.buffer === buffer
            results.equal[k] = Array(slice.raw) == Array(UnsafeRawBufferPointer(rebasing: expected.all.raw[slice.offset..<(slice.offset + slice.count)]))
        }
        #expect(results.same.allSatisfy { $0 })
        #expect(results.equal.allSatisfy { $0 })
    }

    @Test("copies of an opened file share its tensors and its mapping")
    func copiesShare() throws {
        let a = try SafetensorsFile(path: Self.dtypesPath)
        let b = a
        #expect(a.tensors == b.tensors)
        #expect(try a.buffer === b.buffer)
        #expect(a.path == Self.dtypesPath && a.format == .safetensors)
        #expect(a.dataOffset == 8 + a.headerSize)
    }
}

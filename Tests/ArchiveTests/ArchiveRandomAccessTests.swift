import Archive
import Foundation
import Formats
import Testing
import TestSupport

@Suite("Archive random access")
struct ArchiveRandomAccessTests {
    /// Every tensor read out of the archive equals the original's: name, type, shape, bytes.
    func expectSameTensors(_ source: String) throws {
        let original = try Checkpoint.open(source)
        let (archive, _) = try ArchiveTest.pack(source)
        let archived = try ArchivedCheckpoint(path: archive)
        #expect(archived.format == original.format)
        #expect(archived.metadata == original.metadata)
        if original.format != .npy {  // an .npy tensor is named after its file
            #expect(archived.tensors.map(\.name) == original.tensors.map(\.name))
        }
        #expect(archived.tensors.map(\.type) == original.tensors.map(\.type))
        #expect(archived.tensors.map(\.shape) == original.tensors.map(\.shape))
        for (a, o) in zip(archived.tensors, original.tensors) {
            #expect(try archived.bytes(of: a) == original.bytes(of: o), "\(a.name)")
        }
    }

    @Test(
        "tensors read from an archive equal the original's, without unpacking",
        arguments: [
            "archive/bf16.safetensors", "archive/mixed.npz", "archive/hf",
            "safetensors/dtypes.safetensors",
            "gguf/all_types.gguf", "gguf/aligned64.gguf", "numpy/savez_compressed.npz",
            "numpy/fortran_f4.npy",
        ])
    func tensorsEqual(_ fixture: String) throws {
        try expectSameTensors(TestPaths.fixture(fixture))
    }

    @Test("reading one tensor decompresses only the chunks that hold it")
    func onlyNeededChunks() throws {
        let dir = TestPaths.temporaryDirectory("ckz")
        let path = dir + "/two.safetensors"
        // Two 4 MiB tensors: each fills its own chunk(s).
        let n = 1 << 20
        var sink = SafetensorsWriter(path: path)
        let a = try #require(TensorInfo(name: "a", type: .dense(.f32), shape: [n]))
        let b = try #require(TensorInfo(name: "b", type: .dense(.f32), shape: [n]))
        try sink.begin(metadata: [:], plan: [a, b])
        let fa = (0..<n).map { Float($0) * 1e-6 }
        let fb = (0..<n).map { -Float($0) * 1e-6 }
        try fa.withUnsafeBytes { p in try sink.write(a, bytes: p) }
        try fb.withUnsafeBytes { p in try sink.write(b, bytes: p) }
        try sink.commit()
        let (archivePath, _) = try ArchiveTest.pack(path)
        // Corrupt every chunk holding tensor `a`: reading `b` must still work, `a` must not.
        var bytes = try ArchiveTest.bytes(archivePath)
        let reader = try ArchiveReader(path: archivePath)
        let opened = try Checkpoint.open(path)
        let bStart = try opened.bytes(of: try #require(opened.tensor(named: "b"))).offset
        for c in reader.chunks where c.isTensorData && c.fileOffset + c.rawSize <= bStart {
            bytes[c.payloadOffset + c.payloadSize - 1] ^= 0xFF
        }
        let damaged = dir + "/damaged.ckz"
        try Data(bytes).write(to: URL(fileURLWithPath: damaged))
        let source = try ArchivedCheckpoint(path: damaged)
        let tb = try #require(source.tensor(named: "b"))
        let got = try source.bytes(of: tb)
        #expect(got.withBytes { Array($0.bindMemory(to: Float.self)) } == fb)
        let ta = try #require(source.tensor(named: "a"))
        #expect(bStart >= 1 << 22)
        #expect(throws: FormatError.self) { try source.bytes(of: ta) }
    }

    @Test("ArchiveReader.read returns any byte range of a file")
    func byteRanges() throws {
        let source = TestPaths.fixture("gguf/all_types.gguf")
        let original = try ArchiveTest.bytes(source)
        let (archive, _) = try ArchiveTest.pack(source)
        let reader = try ArchiveReader(path: archive)
        for (offset, count) in [
            (0, 0), (0, 4), (100, 1000), (original.count - 7, 7), (0, original.count),
        ] {
            let got = try reader.read(file: 0, offset: offset, count: count).all.bytes
            #expect(got == Array(original[offset..<(offset + count)]))
        }
        #expect(throws: FormatError.self) {
            try reader.read(file: 0, offset: original.count - 3, count: 4)
        }
        #expect(throws: FormatError.self) { try reader.read(file: 1, offset: 0, count: 1) }
        #expect(throws: FormatError.self) { try reader.read(file: 0, offset: -1, count: 1) }
    }

    @Test("Archive.openCheckpoint opens archives by magic and other checkpoints as usual")
    func openCheckpoint() throws {
        let source = TestPaths.fixture("archive/bf16.safetensors")
        let (archive, _) = try ArchiveTest.pack(source)
        #expect(Archive.isArchive(archive))
        #expect(!Archive.isArchive(source))
        #expect(try Archive.openCheckpoint(archive) is ArchivedCheckpoint)
        #expect(try Archive.openCheckpoint(source).tensors.count == 3)
    }

    @Test(
        "a tensor of the real all-MiniLM-L6-v2 reads back from its archive",
        .enabled(if: TestPaths.model("all-minilm-l6-v2") != nil))
    func miniLMTensor() throws {
        let dir = try #require(TestPaths.model("all-minilm-l6-v2"))
        let original = try Checkpoint.open(dir)
        let (archive, _) = try ArchiveTest.pack(dir)
        let archived = try ArchivedCheckpoint(path: archive)
        #expect(archived.tensors.map(\.name) == original.tensors.map(\.name))
        let name = "encoder.layer.3.intermediate.dense.weight"
        let a = try #require(archived.tensor(named: name) ?? archived.tensors.last)
        let o = try #require(original.tensor(named: a.name))
        #expect(try archived.bytes(of: a) == original.bytes(of: o))
    }
}

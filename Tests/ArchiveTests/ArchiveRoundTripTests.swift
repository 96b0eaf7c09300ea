import Archive
import Foundation
import Formats
import Testing
import TestSupport

@Suite("Archive round trips")
struct ArchiveRoundTripTests {
    @Test(
        "pack then unpack restores a checkpoint file byte for byte",
        arguments: [
            "archive/bf16.safetensors", "archive/mixed.npz", "safetensors/dtypes.safetensors",
            "gguf/all_types.gguf", "gguf/example.gguf", "gguf/aligned64.gguf",
            "gguf/no_tensors.gguf",
            "numpy/savez.npz", "numpy/savez_compressed.npz", "numpy/le_f4.npy",
            "numpy/fortran_f4.npy",
            "numpy/be_f4.npy", "numpy/empty_f4.npy", "numpy/manifest.json",
        ])
    func fileRoundTrip(_ fixture: String) throws {
        let source = TestPaths.fixture(fixture)
        let (archive, summary) = try ArchiveTest.pack(source)
        #expect(summary.files == 1)
        #expect(summary.sourceBytes == (try ArchiveTest.bytes(source)).count)
        let reader = try ArchiveReader(path: archive)
        #expect(!reader.isDirectory)
        #expect(reader.files.map(\.path) == [URL(fileURLWithPath: source).lastPathComponent])
        let restored = TestPaths.temporaryDirectory("ckz-out") + "/restored"
        try reader.extract(to: restored)
        #expect(ArchiveTest.difference(source, restored) == nil)
    }

    @Test("a directory round-trips: nested paths, an empty file, every byte")
    func directoryRoundTrip() throws {
        let source = TestPaths.fixture("archive/hf")
        let (archive, summary) = try ArchiveTest.pack(source)
        let reader = try ArchiveReader(path: archive)
        #expect(reader.isDirectory)
        #expect(
            reader.files.map(\.path) == [
                "1_Pooling/config.json", "config.json", "empty.txt", "model.safetensors",
            ])
        #expect(reader.files.map(\.isCheckpoint) == [false, false, false, true])
        #expect(summary.files == 4)
        // An existing empty directory is replaced; the result is the same tree.
        let restored = TestPaths.temporaryDirectory("ckz-out")
        try reader.extract(to: restored)
        #expect(ArchiveTest.difference(source, restored) == nil)
        // The restored directory has the mode a new directory gets (not mkdtemp's 0700).
        let mask = umask(0)
        umask(mask)
        let mode = try FileManager.default.attributesOfItem(atPath: restored)[.posixPermissions] as? Int
        #expect(mode == Int(0o777 & ~mask))
    }

    @Test("unpack refuses an existing non-empty destination and leaves it untouched")
    func refusesOverwrite() throws {
        let (archive, _) = try ArchiveTest.pack(TestPaths.fixture("archive/hf"))
        let dst = TestPaths.temporaryDirectory("ckz-out")
        try Data("keep".utf8).write(to: URL(fileURLWithPath: dst + "/mine.txt"))
        #expect(throws: FormatError.self) { try ArchiveReader(path: archive).extract(to: dst) }
        #expect(ArchiveTest.files(dst) == ["mine.txt"])
        let file = dst + "/mine.txt"
        #expect(throws: FormatError.self) { try ArchiveReader(path: archive).extract(to: file) }
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "keep")
    }

    @Test("BF16 made by casting: the high (sign/exponent) plane compresses, the low plane barely")
    func bf16Planes() throws {
        let (_, summary) = try ArchiveTest.pack(TestPaths.fixture("archive/bf16.safetensors"))
        let low = try #require(summary.planeRatio(width: 2, plane: 0))
        let high = try #require(summary.planeRatio(width: 2, plane: 1))
        // Weights ~N(0, 0.02): the exponent byte takes a handful of values (~2-3 bits of
        // entropy), the low byte (1 exponent bit + 7 mantissa bits) is close to noise.
        #expect(high > 2.0, "high plane \(high)")
        #expect(low < 1.3, "low plane \(low)")
        #expect(summary.ratio > 1.3, "archive ratio \(summary.ratio)")
        #expect(summary.planes[4] == nil)
    }

    @Test(
        "F32 and F16 tensors of an npz are split into 4- and 2-byte planes; the top plane compresses most"
    )
    func npzPlanes() throws {
        let (_, summary) = try ArchiveTest.pack(TestPaths.fixture("archive/mixed.npz"))
        let f32 = try #require(summary.planes[4])
        #expect(f32.count == 4)
        let ratios = (0..<4).compactMap { summary.planeRatio(width: 4, plane: $0) }
        #expect(ratios.count == 4)
        #expect(ratios[3] == ratios.max(), "\(ratios)")
        #expect(summary.planes[2] != nil)
    }

    @Test("byte planes beat plain zstd on float weights")
    func planesBeatPlainZstd() throws {
        let source = TestPaths.fixture("archive/bf16.safetensors")
        let (archive, _) = try ArchiveTest.pack(source)
        // The same file as a non-checkpoint (one byte prepended breaks detection): plain zstd.
        let dir = TestPaths.temporaryDirectory("ckz")
        let plain = dir + "/x.bin"
        try Data([0x00] + (try ArchiveTest.bytes(source))).write(to: URL(fileURLWithPath: plain))
        let (plainArchive, summary) = try ArchiveTest.pack(plain)
        #expect(summary.planes.isEmpty)
        let planes = try ArchiveTest.bytes(archive).count
        let zstd = try ArchiveTest.bytes(plainArchive).count
        #expect(Double(zstd) / Double(planes) > 1.1, "planes \(planes) vs zstd \(zstd)")
    }

    @Test("levels change the size, never the restored bytes", arguments: [1, 9, -3])
    func levels(_ level: Int) throws {
        let source = TestPaths.fixture("archive/bf16.safetensors")
        let (archive, _) = try ArchiveTest.pack(source, level: level)
        let restored = TestPaths.temporaryDirectory("ckz-out") + "/r.safetensors"
        try ArchiveReader(path: archive).extract(to: restored)
        #expect(ArchiveTest.difference(source, restored) == nil)
    }

    @Test("a file larger than one chunk spans several chunks and restores exactly")
    func multiChunk() throws {
        let dir = TestPaths.temporaryDirectory("ckz")
        let path = dir + "/big.safetensors"
        // 3 MiB of F32 + 3 MiB of BF16: chunks cut at 4 MiB inside a tensor region.
        let n = 3 << 18
        var sink = SafetensorsWriter(path: path)
        let a = try #require(TensorInfo(name: "a", type: .dense(.f32), shape: [n]))
        let b = try #require(TensorInfo(name: "b", type: .dense(.bf16), shape: [2 * n]))
        try sink.begin(metadata: [:], plan: [a, b])
        var g = SystemRandomNumberGenerator()
        let fa = (0..<n).map { _ in Float.random(in: -0.1...0.1, using: &g) }
        try fa.withUnsafeBytes { p in try sink.write(a, bytes: p) }
        let fb = (0..<(2 * n)).map { _ in
            UInt16(truncatingIfNeeded: Float.random(in: -1...1).bitPattern >> 16)
        }
        try fb.withUnsafeBytes { p in try sink.write(b, bytes: p) }
        try sink.commit()
        let (archive, _) = try ArchiveTest.pack(path)
        let reader = try ArchiveReader(path: archive)
        #expect(reader.files[0].chunks.count >= 3)
        #expect(reader.chunks.allSatisfy { $0.rawSize <= Archive.maxChunkSize })
        let restored = dir + "/restored.safetensors"
        try reader.extract(to: restored)
        #expect(ArchiveTest.difference(path, restored) == nil)
    }

    @Test(
        "the real all-MiniLM-L6-v2 directory round-trips",
        .enabled(if: TestPaths.model("all-minilm-l6-v2") != nil))
    func miniLM() throws {
        let source = try #require(TestPaths.model("all-minilm-l6-v2"))
        let (archive, summary) = try ArchiveTest.pack(source)
        #expect(summary.ratio > 1.05)
        let restored = TestPaths.temporaryDirectory("ckz-out") + "/minilm"
        try ArchiveReader(path: archive).extract(to: restored)
        #expect(ArchiveTest.difference(source, restored) == nil)
        try? FileManager.default.removeItem(atPath: restored)
    }

    @Test(
        "the real SmolLM2 GGUF (Q4_1) round-trips",
        .enabled(if: TestPaths.model("smollm2-135m-instruct-q4_1.gguf") != nil))
    func smolLM() throws {
        let source = try #require(TestPaths.model("smollm2-135m-instruct-q4_1.gguf"))
        let (archive, _) = try ArchiveTest.pack(source)
        let restored = TestPaths.temporaryDirectory("ckz-out") + "/s.gguf"
        try ArchiveReader(path: archive).extract(to: restored)
        #expect(ArchiveTest.difference(source, restored) == nil)
        try? FileManager.default.removeItem(atPath: restored)
        try? FileManager.default.removeItem(atPath: archive)
    }
}

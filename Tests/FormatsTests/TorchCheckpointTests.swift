import Foundation
import Testing
import TestSupport

@testable import Formats

/// Expected tensors written by Tests/fixtures/make_torch.py with the real torch.
private struct TorchExpected {
    struct Tensor {
        var name: String
        var dtype: String
        var shape: [Int]
        var contiguous: Bool
        var bytes: [UInt8]
    }

    static let all: MetadataValue = {
        let path = TestPaths.fixture("torch/expected.json")
        return (try? JSON.parse(ByteBuffer(mapping: path).all)) ?? .null
    }()

    static func tensors(_ file: String) -> [Tensor] {
        (all[file]?["tensors"]?.arrayValue ?? []).map { t in
            Tensor(
                name: t["name"]?.stringValue ?? "", dtype: t["dtype"]?.stringValue ?? "",
                shape: (t["shape"]?.arrayValue ?? []).map { Int($0.intValue ?? -1) },
                contiguous: t["contiguous"]?.boolValue ?? true,
                bytes: hexBytes(t["hex"]?.stringValue ?? ""))
        }
    }

    static func malicious(_ file: String) -> (global: String, offset: Int)? {
        guard let g = all[file]?["global"]?.stringValue, let o = all[file]?["offset"]?.intValue
        else {
            return nil
        }
        return (g, Int(o))
    }

    static func hexBytes(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex, let j = s.index(i, offsetBy: 2, limitedBy: s.endIndex) {
            out.append(UInt8(s[i..<j], radix: 16) ?? 0)
            i = j
        }
        return out
    }
}

@Suite("PyTorch checkpoints written by torch")
struct TorchCheckpointTests {
    static let files = [
        "dtypes.pt", "newdtypes.pt", "nested.pt", "shared.pt", "scalar_empty.pt", "legacy.pt",
        "param.pt", "proto4.pt", "pytorch_model.bin", "deflated.pt",
    ]

    @Test("every tensor matches torch: name, order, dtype, shape and bytes", arguments: files)
    func matchesTorch(file: String) throws {
        let expected = TorchExpected.tensors(file)
        #expect(!expected.isEmpty)
        let ckpt = try TorchCheckpoint(path: TestPaths.fixture("torch/" + file))
        #expect(ckpt.format == .pytorch)
        #expect(ckpt.tensors.map(\.name) == expected.map(\.name))
        for (info, want) in zip(ckpt.tensors, expected) {
            #expect(info.type.description == want.dtype, "\(info.name)")
            #expect(info.shape == want.shape, "\(info.name)")
            #expect(info.byteCount == want.bytes.count, "\(info.name)")
            #expect((info.location.strides == nil) == want.contiguous, "\(info.name)")
            let bytes = try ckpt.bytes(of: info)
            #expect(bytes.bytes == want.bytes, "\(info.name)")
        }
    }

    @Test("the layout is reported, legacy and zip")
    func layoutMetadata() throws {
        let zip = try TorchCheckpoint(path: TestPaths.fixture("torch/dtypes.pt"))
        let legacy = try TorchCheckpoint(path: TestPaths.fixture("torch/legacy.pt"))
        #expect(zip.metadata["pytorch.layout"] == .string("zip"))
        #expect(legacy.metadata["pytorch.layout"] == .string("legacy"))
    }

    @Test("contiguous tensors are slices of the mapped file, strided ones are gathered copies")
    func noCopyForContiguous() throws {
        let path = TestPaths.fixture("torch/shared.pt")
        let buffer = try ByteBuffer(mapping: path)
        let ckpt = try TorchCheckpoint(buffer: buffer)
        let t = try #require(ckpt.tensor(named: "t"))
        let tail = try #require(ckpt.tensor(named: "tail"))
        let wT = try #require(ckpt.tensor(named: "wT"))
        let slice = try ckpt.bytes(of: t)
        #expect(slice.buffer === buffer)
        // Shared storage: `tail` is the same storage 2 elements (8 bytes) further on.
        #expect(tail.location.file == t.location.file)
        #expect(tail.location.offset == t.location.offset + 8)
        #expect(try ckpt.bytes(of: tail).buffer === buffer)
        #expect(wT.location.strides == [1, 4])
        #expect(try ckpt.bytes(of: wT).buffer !== buffer)
    }

    @Test("nested dicts are joined with dots, non-tensor leaves are ignored")
    func nestedNames() throws {
        let ckpt = try TorchCheckpoint(path: TestPaths.fixture("torch/nested.pt"))
        #expect(ckpt.tensors.map(\.name) == ["model.w", "model.sub.b"])
    }

    @Test("transformers-style pytorch_model.bin of Linear + Conv1d + LayerNorm")
    func tinyModule() throws {
        let ckpt = try TorchCheckpoint(path: TestPaths.fixture("torch/pytorch_model.bin"))
        let shapes = Dictionary(uniqueKeysWithValues: ckpt.tensors.map { ($0.name, $0.shape) })
        #expect(shapes["proj.weight"] == [3, 4])
        #expect(shapes["conv.weight"] == [2, 3, 3])
        #expect(shapes["norm.bias"] == [3])
        #expect(ckpt.tensors.count == 6)
    }

    @Test(
        "a pickled os.system call is refused at its GLOBAL, never run",
        arguments: ["malicious.pt", "malicious_legacy.pt"])
    func maliciousFixture(file: String) throws {
        let want = try #require(TorchExpected.malicious(file))
        let path = TestPaths.fixture("torch/" + file)
        let error = try #require(throws: FormatError.self) { try TorchCheckpoint(path: path) }
        #expect(error.reason == .forbiddenGlobal(want.global))
        #expect(error.offset == want.offset)
        #expect(error.file == path)
        #expect(error.description.contains("posix.system"))
    }

    @Test("the name given to an in-memory checkpoint is the file errors name")
    func inMemoryName() throws {
        let bytes = try #require(
            FileManager.default.contents(atPath: TestPaths.fixture("torch/malicious.pt")))
        let buffer = ByteBuffer(copying: Array(bytes), name: "<memory>")
        let error = try #require(throws: FormatError.self) {
            try TorchCheckpoint(buffer: buffer, name: "upload.pt")
        }
        #expect(error.file == "upload.pt")
    }

    @Test("a TorchScript archive and a big-endian archive are unsupported")
    func unsupportedArchives() throws {
        let script = try #require(throws: FormatError.self) {
            try TorchCheckpoint(path: TestPaths.fixture("torch/script.pt"))
        }
        #expect(script.description.contains("TorchScript"))
        let big = try #require(throws: FormatError.self) {
            try TorchCheckpoint(path: TestPaths.fixture("torch/bigendian.pt"))
        }
        #expect(big.reason == .unsupported("big-endian storages (byteorder 'big')"))
    }

    /// nested.pt with member `from` renamed to `to` (same length) in the local and central
    /// headers: offsets stay valid and CRCs cover data, not names.
    func renamed(_ from: String, _ to: String) throws -> ByteBuffer {
        var bytes = try #require(
            FileManager.default.contents(atPath: TestPaths.fixture("torch/nested.pt")).map(
                Array.init))
        let f = Array(from.utf8), t = Array(to.utf8)
        var i = 0
        var hits = 0
        while i + f.count <= bytes.count {
            if Array(bytes[i..<i + f.count]) == f {
                bytes.replaceSubrange(i..<i + f.count, with: t)
                hits += 1
            }
            i += 1
        }
        #expect(hits == 2)
        return ByteBuffer(copying: bytes, name: "n.pt")
    }

    @Test("an archive without data.pkl, a version or a storage record is invalid")
    func missingRecords() throws {
        let e1 = try #require(throws: FormatError.self) {
            try TorchCheckpoint(buffer: try renamed("nested/data.pkl", "nested/data.pkX"))
        }
        #expect(e1.reason == .invalid("no 'nested/data.pkl' record"))
        let e2 = try #require(throws: FormatError.self) {
            try TorchCheckpoint(buffer: try renamed("nested/data/1", "nested/data/X"))
        }
        #expect(e2.reason == .invalid("storage '1' has no record 'nested/data/1'"))
        let e3 = try #require(throws: FormatError.self) {
            try TorchCheckpoint(buffer: try renamed("nested/version", "nested/versioX"))
        }
        #expect(e3.reason == .invalid("no version record"))
    }
}

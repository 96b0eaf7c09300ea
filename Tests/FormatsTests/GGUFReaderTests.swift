import Formats
import Foundation
import Testing
import TestSupport

@Suite("GGUF reader")
struct GGUFReaderTests {
    static let fixtures = ["all_types", "aligned64", "example", "no_tensors"]

    @Test("Reads what gguf-py wrote: the same KVs, types, tensors and bytes", arguments: fixtures)
    func fixtureMatchesGGUFPy(name: String) throws {
        let file = try GGUFFile(path: TestPaths.fixture("gguf/\(name).gguf"))
        let listing = try GGUFListing.load(TestPaths.fixture("gguf/\(name).json"))
        try GGUFListing.check(file, against: listing)
        if !file.tensors.isEmpty {
            #expect(listing["data_offset"]?.intValue == Int64(file.dataOffset))
        }
    }

    @Test("Keeps exact value widths, element types and nesting")
    func exactTypes() throws {
        let file = try GGUFFile(path: TestPaths.fixture("gguf/all_types.gguf"))
        let m = file.metadata
        #expect(m["t.u8"] == .uint8(200))
        #expect(m["t.i8"] == .int8(-100))
        #expect(m["t.u16"] == .uint16(60000))
        #expect(m["t.i16"] == .int16(-30000))
        #expect(m["t.u32"] == .uint32(4_000_000_000))
        #expect(m["t.i32"] == .int32(-2_000_000_000))
        #expect(m["t.f32"] == .float32(0.1))
        #expect(m["t.u64"] == .uint64(18_000_000_000_000_000_000))
        #expect(m["t.i64"] == .int64(-9_000_000_000_000_000_000))
        #expect(m["t.f64"] == .float64(-1e300))
        #expect(m["t.bool_true"] == .bool(true))
        #expect(m["t.bool_false"] == .bool(false))
        #expect(m["t.string"] == .string("héllo, wörld ✓ 日本語 🦙"))
        #expect(m["t.arr_u8"] == .array([.uint8(0), .uint8(255), .uint8(7)], elementType: .uint8))
        #expect(
            m["t.arr_str"]
                == .array(
                    [.string("a"), .string(""), .string("ü🦙"), .string("<0x0A>")],
                    elementType: .string))
        #expect(
            m["t.nested"]
                == .array(
                    [
                        .array([.int32(1), .int32(2)], elementType: .int32),
                        .array([.int32(3)], elementType: .int32),
                        .array([.int32(4), .int32(5), .int32(6)], elementType: .int32),
                    ], elementType: .array))
        #expect(m["llama.block_count"] == .uint32(2))
        #expect(m.keys.first == "general.architecture")
    }

    @Test("Reports row-major shapes, dense and block types, and byte counts")
    func tensorTypes() throws {
        let file = try GGUFFile(path: TestPaths.fixture("gguf/all_types.gguf"))
        func info(_ n: String) throws -> TensorInfo { try #require(file.tensor(named: n)) }
        #expect(try info("f32.weight").shape == [2, 3])
        #expect(try info("f32.weight").type == .dense(.f32))
        #expect(try info("bf16.weight").type == .dense(.bf16))
        #expect(try info("i64.weight").type == .dense(.i64))
        #expect(try info("q8_0.weight").type == .ggml(.Q8_0))
        #expect(try info("q8_0.weight").shape == [2, 64])
        #expect(try info("q8_0.weight").byteCount == 2 * 2 * 34)
        #expect(try info("q6_k.weight").shape == [3, 512])
        #expect(try info("q6_k.weight").byteCount == 3 * 2 * 210)
        #expect(try info("r4.weight").shape == [1, 2, 1, 3])
        let f32 = try file.bytes(of: info("f32.weight"))
        let values = (0..<6).map { f32.raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        #expect(values == [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5])
        // No copy: the slice points into the file's own buffer.
        #expect(f32.buffer === file.buffer)
        #expect(file.version == 3 && file.alignment == 32)
        #expect(file.dataOffset % 32 == 0)
    }

    @Test("general.alignment sets the data alignment")
    func customAlignment() throws {
        let file = try GGUFFile(path: TestPaths.fixture("gguf/aligned64.gguf"))
        #expect(file.alignment == 64)
        #expect(file.metadata["general.alignment"] == .uint32(64))
        #expect(file.dataOffset % 64 == 0)
        for t in file.tensors { #expect(t.location.offset % 64 == 0) }
    }

    @Test("With no tensors, the data section starts at the unpadded end of the header")
    func noTensors() throws {
        let file = try GGUFFile(path: TestPaths.fixture("gguf/no_tensors.gguf"))
        #expect(file.tensors.isEmpty)
        #expect(file.dataOffset == 4 + 4 + 8 + 8 + (8 + 20 + 4 + 8 + 5) + (8 + 12 + 4 + 8 + 10))
    }

    @Test("Version 2 files open like version 3")
    func version2() throws {
        var bytes = try Array(
            Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture("gguf/example.gguf"))))
        bytes[4] = 2
        let file = try GGUFFile(buffer: ByteBuffer(copying: bytes, name: "v2.gguf"))
        #expect(file.version == 2)
        #expect(file.tensors.count == 3)
    }

    @Test(
        "The real SmolLM2 Q4_1 model lists the tensors gguf-py lists",
        .enabled(if: Python.available && TestPaths.model("smollm2-135m-instruct-q4_1.gguf") != nil))
    func realModel() throws {
        let path = try #require(TestPaths.model("smollm2-135m-instruct-q4_1.gguf"))
        let file = try GGUFFile(path: path)
        let script = """
            import sys, gguf
            r = gguf.GGUFReader(sys.argv[1])
            print(r.data_offset)
            for k, f in r.fields.items():
                if not k.startswith("GGUF."): print("kv", k, *[int(t) for t in f.types])
            for t in r.tensors:
                print("t", t.name, t.tensor_type.name, t.data_offset, t.n_bytes, *[int(x) for x in t.shape])
            """
        let result = try Python.run(script, [path])
        try #require(result.status == 0, "\(result.stderr)")
        var lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(Int(lines.removeFirst()) == file.dataOffset)
        let kvLines = lines.filter { $0.hasPrefix("kv ") }
        let ours = file.metadata.map { key, value in
            (["kv", key] + GGUFListing.typePath(value).map(String.init)).joined(separator: " ")
        }
        #expect(kvLines == ours)
        let tensorLines = lines.filter { $0.hasPrefix("t ") }
        let oursT = file.tensors.map { t in
            (["t", t.name, t.type.description, String(t.location.offset), String(t.byteCount)]
                + t.shape.reversed().map(String.init)).joined(separator: " ")
        }
        #expect(tensorLines == oursT)
        #expect(file.tensors.count > 250)
        #expect(file.metadata["general.architecture"] == .string("llama"))
        // Every tensor's bytes are a slice of the map.
        for t in file.tensors { #expect(try file.bytes(of: t).count == t.byteCount) }
    }
}

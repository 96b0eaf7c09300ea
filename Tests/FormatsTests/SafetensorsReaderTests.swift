import Foundation
import Formats
import Testing
import TestSupport

@Suite("Safetensors reader")
struct SafetensorsReaderTests {
    static let dtypesPath = TestPaths.fixture("safetensors/dtypes.safetensors")

    @Test("every dtype written by the reference library reads back byte for byte, with its shape")
    func everyDType() throws {
        let file = try SafetensorsFile(path: Self.dtypesPath)
        let expected = try ST.expectedDTypes()
        #expect(file.tensors.count == expected.count)
        for e in expected {
            let t = try #require(file.tensor(named: e.name), "\(e.name)")
            #expect(t.type == .dense(try #require(DType(rawValue: e.dtype))), "\(e.name)")
            #expect(t.shape == e.shape, "\(e.name)")
            #expect(try file.bytes(of: t).bytes == e.bytes, "\(e.name)")
        }
        #expect(file.metadata == ["format": .string("np")])
        #expect(file.format == .safetensors)
    }

    @Test("decoded values equal numpy's: F32, F64, I64, U64, BOOL, 0-d and empty")
    func values() throws {
        let file = try SafetensorsFile(path: Self.dtypesPath)
        let expected = Dictionary(
            uniqueKeysWithValues: try ST.expectedDTypes().map { ($0.name, $0) })
        func decode<T>(_ name: String, _: T.Type) throws -> [T] {
            let t = try #require(file.tensor(named: name))
            let raw = try file.bytes(of: t).raw
            return (0..<t.elementCount).map {
                raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)
            }
        }
        let f32 = try #require(expected["f32"]?.values as? [Double])
        #expect(try decode("f32", Float.self) == f32.map { Float($0) })
        #expect(
            try decode("f64", Double.self) == (try #require(expected["f64"]?.values as? [Double])))
        let i64 = try #require(expected["i64"]?.values as? [Int64])
        #expect(try decode("i64", Int64.self) == i64)
        // JSON gives UInt64 only above Int64.max.
        let u64 = try #require(expected["u64"]?.values).map {
            ($0 as? UInt64) ?? UInt64(bitPattern: ($0 as? Int64) ?? -1)
        }
        #expect(try decode("u64", UInt64.self) == u64)
        #expect(try decode("bool", UInt8.self) == [1, 0, 1])
        let scalar = try #require(file.tensor(named: "scalar"))
        #expect(scalar.shape == [] && scalar.byteCount == 4)
        #expect(try decode("scalar", Float.self) == [3.5])
        let empty = try #require(file.tensor(named: "empty"))
        #expect(empty.shape == [0, 3] && empty.byteCount == 0)
        #expect(try file.bytes(of: empty).count == 0)
    }

    @Test("tensors come in file order (data offsets), as safe_open().offset_keys()")
    func fileOrder() throws {
        let file = try SafetensorsFile(path: Self.dtypesPath)
        let offsets = file.tensors.map(\.location.offset)
        #expect(offsets == offsets.sorted())
        #expect(file.tensors.first?.location.offset == file.dataOffset)
        // The reference writer's order: dtype descending, then name; the empty F32 tensor
        // at [128,128] sorts before f32 at [128,152].
        #expect(
            Array(file.tensors.map(\.name).prefix(7)) == [
                "u64", "i64", "f64", "c64", "empty", "f32", "scalar",
            ])
        #expect(file.tensors.last?.name == "bool")
        guard Python.available else { return }
        let r = try Python.run(
            """
            import sys
            from safetensors import safe_open
            with safe_open(sys.argv[1], framework="np") as f:
                print("\\n".join(f.offset_keys()))
            """, [Self.dtypesPath])
        try #require(r.status == 0, "\(r.stderr)")
        let pythonOrder = r.stdout.split(separator: "\n").map(String.init)
        // Python breaks the [128,128]/[128,152] tie the same way; compare all of it.
        #expect(file.tensors.map(\.name) == pythonOrder)
    }

    @Test("bytes(of:) is a slice of the mapping, not a copy; path and buffer opens agree")
    func noCopy() throws {
        let file = try SafetensorsFile(path: Self.dtypesPath)
        let t = try #require(file.tensor(named: "f64"))
        let slice = try file.bytes(of: t)
        #expect(try slice.buffer === file.buffer)
        #expect(slice.offset == t.location.offset)
        #expect(try file.buffer.name == Self.dtypesPath)
        let memory = try SafetensorsFile(buffer: ByteBuffer(copying: try ST.read(Self.dtypesPath)))
        #expect(memory.tensors == file.tensors)
        #expect(memory.metadata == file.metadata)
    }

    @Test("metadata: several string keys with escapes; null metadata is no metadata")
    func metadata() throws {
        let file = try SafetensorsFile(path: TestPaths.fixture("safetensors/metadata.safetensors"))
        #expect(file.metadata.count == 3)
        #expect(file.metadata["format"] == .string("pt"))
        #expect(file.metadata["note"] == .string("héllo \"quoted\"\n"))
        #expect(file.metadata["empty"] == .string(""))
        let mlx = ST.file(
            #"{"__metadata__":null,"a":{"data_offsets":[0,2],"dtype":"U8","shape":[2]}}"#,
            data: [7, 9])
        let f = try SafetensorsFile(buffer: ByteBuffer(copying: mlx))
        #expect(f.metadata.isEmpty)
        #expect(f.tensors.map(\.name) == ["a"])
        #expect(try f.bytes(of: f.tensors[0]).bytes == [7, 9])
    }

    @Test("F4 (through torch's float4_e2m1fn_x2): the header counts FP4 values, two per byte")
    func f4() throws {
        let file = try SafetensorsFile(path: TestPaths.fixture("safetensors/f4.safetensors"))
        let t = try #require(file.tensors.first)
        #expect(t.type == .dense(.f4))
        #expect(t.shape == [2, 4])
        #expect(t.byteCount == 4)
        #expect(try file.bytes(of: t).bytes == [0x21, 0x43, 0x65, 0xF7])
        #expect(file.metadata.isEmpty)
    }

    @Test(
        "the doc's test vector: one F32 attn.0 [1,2,3]; an empty file; whitespace around the JSON")
    func vectors() throws {
        var values: [UInt8] = []
        for v: Float in [0, 1, 2, 3, 4, 5] { withUnsafeBytes(of: v) { values += $0 } }
        let bytes = ST.file(
            #"{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}"#, data: values)
        #expect(bytes.prefix(8) == [0x40, 0, 0, 0, 0, 0, 0, 0])
        let f = try SafetensorsFile(buffer: ByteBuffer(copying: bytes))
        #expect(
            f.tensors == [
                TensorInfo(
                    name: "attn.0", type: .dense(.f32), shape: [1, 2, 3], byteCount: 24,
                    location: .init(offset: 72))
            ])
        let empty = try SafetensorsFile(path: TestPaths.fixture("safetensors/empty.safetensors"))
        #expect(empty.tensors.isEmpty && empty.metadata.isEmpty && empty.headerSize == 8)
        let spaced = ST.file("\t\n{}\r ")
        #expect(try SafetensorsFile(buffer: ByteBuffer(copying: spaced)).tensors.isEmpty)
        // Extra fields inside an entry are ignored, as serde ignores them.
        let extra = ST.file(
            #"{"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1],"x":[{}]}}"#, data: [5])
        #expect(try SafetensorsFile(buffer: ByteBuffer(copying: extra)).tensors.count == 1)
    }

    @Test(
        "all-MiniLM-L6-v2 lists the same names, shapes and dtypes as Python safetensors",
        .enabled(if: Python.available && TestPaths.model("all-minilm-l6-v2") != nil))
    func realModel() throws {
        let path = try #require(TestPaths.model("all-minilm-l6-v2")) + "/model.safetensors"
        let file = try SafetensorsFile(path: path)
        let r = try Python.run(
            """
            import sys
            from safetensors import safe_open
            with safe_open(sys.argv[1], framework="np") as f:
                for k in f.offset_keys():
                    s = f.get_slice(k)
                    print(k, s.get_dtype(), ",".join(map(str, s.get_shape())))
            """, [path])
        try #require(r.status == 0, "\(r.stderr)")
        let ours = file.tensors.map {
            "\($0.name) \($0.type) \($0.shape.map(String.init).joined(separator: ","))"
        }
        #expect(ours == r.stdout.split(separator: "\n").map(String.init))
        #expect(file.tensors.count > 100)
        for t in file.tensors { #expect(try file.bytes(of: t).count == t.byteCount) }
    }
}

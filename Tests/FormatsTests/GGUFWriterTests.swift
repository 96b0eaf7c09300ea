import Formats
import Foundation
import Testing
import TestSupport

@Suite("GGUF writer")
struct GGUFWriterTests {
    static func fileBytes(_ path: String) throws -> [UInt8] {
        try Array(Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func hexBytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16) ?? 0)
            i = j
        }
        return out
    }

    /// Writes `tensors` with their bytes through a GGUFWriter.
    static func write(
        _ path: String, alignment: Int = 32, metadata: Metadata,
        tensors: [(TensorInfo, [UInt8])]
    ) throws(FormatError) {
        var w = GGUFWriter(path: path, alignment: alignment)
        try w.begin(metadata: metadata, plan: tensors.map(\.0))
        for (t, b) in tensors {
            try b.withUnsafeBytes { raw in
                Result { () throws(FormatError) in try w.write(t, bytes: raw) }
            }.get()
        }
        try w.commit()
    }

    @Test("Metadata built in Swift writes the bytes gguf-py's GGUFWriter wrote")
    func byteIdenticalToGGUFPy() throws {
        let listing = try GGUFListing.load(TestPaths.fixture("gguf/example.json"))
        let q8hex = try #require(listing["tensors"]?.arrayValue?[2]["hex"]?.stringValue)
        let metadata: Metadata = [
            "general.architecture": .string("llama"),
            "llama.block_count": .uint32(1),
            "general.name": .string("x"),
            "tokenizer.ggml.scores": .array([.float32(0.5), .float32(-1.0)]),
            "llama.context_length": .uint32(2048),
            "llama.rope.freq_base": .float32(10000),
            "tokenizer.ggml.tokens": .array([.string("<s>"), .string("é")]),
            "tokenizer.ggml.token_type": .array([.int32(1), .int32(3)]),
            "tokenizer.ggml.add_bos_token": .bool(true),
            "general.file_type": .uint32(7),
            "general.quantization_version": .uint32(2),
        ]
        let a = (0..<6).flatMap { i in
            withUnsafeBytes(of: Float(i).bitPattern.littleEndian, Array.init)
        }
        let b: [UInt8] = [0x00, 0x3C, 0x00, 0x3C, 0x00, 0x3C]
        let tensors: [(TensorInfo, [UInt8])] = try [
            (#require(TensorInfo(name: "a", type: .dense(.f32), shape: [2, 3])), a),
            (#require(TensorInfo(name: "b", type: .dense(.f16), shape: [3])), b),
            (
                #require(TensorInfo(name: "c", type: .ggml(.Q8_0), shape: [2, 32])),
                Self.hexBytes(q8hex)
            ),
        ]
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.write(dir + "/ours.gguf", metadata: metadata, tensors: tensors)
        let ours = try Self.fileBytes(dir + "/ours.gguf")
        let theirs = try Self.fileBytes(TestPaths.fixture("gguf/example.gguf"))
        #expect(ours.count == theirs.count)
        #expect(ours == theirs)
    }

    @Test(
        "Reading a gguf-py file and writing it back gives the same bytes",
        arguments: GGUFReaderTests.fixtures)
    func roundTrip(name: String) throws {
        let source = try GGUFFile(path: TestPaths.fixture("gguf/\(name).gguf"))
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var w = GGUFWriter(path: dir + "/out.gguf")
        try w.begin(metadata: source.metadata, plan: source.tensors)
        for t in source.tensors { try w.write(t, bytes: source.bytes(of: t).raw) }
        try w.commit()
        #expect(try Self.fileBytes(dir + "/out.gguf") == Self.fileBytes(source.buffer.name))
    }

    @Test(
        "gguf-py's GGUFReader reads our files with the same KVs and tensors",
        .enabled(if: Python.available))
    func readByGGUFPy() throws {
        var metadata: Metadata = [
            "general.architecture": .string("llama"),
            "u8": .uint8(255), "i8": .int8(-1), "u16": .uint16(65535), "i16": .int16(-2),
            "u32": .uint32(7), "i32": .int32(-7), "u64": .uint64(.max), "i64": .int64(.min),
            "f32": .float32(-0.25), "f64": .float64(1e-300), "yes": .bool(true), "no": .bool(false),
            "s": .string("ünïcödé 🦙"), "empty": .string(""),
            "floats": .array([.float32(1), .float32(2.5)]),
            "u16s": .array([.uint16(1), .uint16(2)], elementType: .uint16),
            "none": .array([], elementType: .int32),
            "nested": .array([.array([.string("a")]), .array([.string("b"), .string("c")])]),
        ]
        var tensors: [(TensorInfo, [UInt8])] = []
        for (i, type) in [
            TensorType.dense(.f32), .dense(.f16), .dense(.bf16), .dense(.i32),
            .ggml(.Q4_0), .ggml(.Q4_K),
        ].enumerated() {
            let shape = type.isQuantized ? [2, 256] : [3, 2, 5]
            let info = try #require(TensorInfo(name: "t\(i).\(type)", type: type, shape: shape))
            tensors.append(
                (info, (0..<info.byteCount).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }))
        }
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/ours.gguf"
        try Self.write(path, alignment: 64, metadata: metadata, tensors: tensors)

        let script = """
            import json, sys
            sys.path.insert(0, sys.argv[2])
            from make_gguf import listing
            print(json.dumps(listing(sys.argv[1])))
            """
        let result = try Python.run(script, [path, TestPaths.fixture("")])
        try #require(result.status == 0, "\(result.stderr)")
        let listing = try JSON.parse(result.stdout)
        let file = try GGUFFile(path: path)
        try GGUFListing.check(file, against: listing)
        metadata["general.alignment"] = .uint32(64)  // appended for a non-default alignment
        #expect(file.metadata.keys == metadata.keys)
        for (k, v) in metadata {
            // Arrays read back carry their element type; compare the elements.
            let read = file.metadata[k].map(GGUFListing.withoutElementTypes)
            #expect(read == GGUFListing.withoutElementTypes(v), "\(k)")
        }
        #expect(file.alignment == 64 && file.dataOffset % 64 == 0)
        for (t, bytes) in tensors {
            let read = try #require(file.tensor(named: t.name))
            #expect(read.shape == t.shape && read.type == t.type)
            #expect(try file.bytes(of: read).bytes == bytes)
        }
    }

    @Test(
        "Metadata GGUF cannot type is refused before anything is written",
        arguments: [
            ("obj", MetadataValue.object(["a": .int32(1)]), "no type"),
            ("null", .null, "no type"),
            ("empty", .array([]), "empty array without an element type"),
            ("mixed", .array([.int32(1), .uint32(2)]), "UINT32 element in a INT32 array"),
            ("typed", .array([.int32(1)], elementType: .int64), "INT32 element in a INT64 array"),
            ("", .int32(1), "empty key"),
        ])
    func badMetadata(key: String, value: MetadataValue, message: String) throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var w = GGUFWriter(path: dir + "/x.gguf")
        #expect {
            try w.begin(metadata: [key: value], plan: [])
        } throws: { error in
            "\(error)".contains(message)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test("Plans ggml's reader would refuse are refused")
    func badPlans() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f32 = TensorType.dense(.f32)
        let plans: [([TensorInfo], String)] = [
            (
                [
                    TensorInfo(
                        name: String(repeating: "x", count: 64), type: f32, shape: [1], byteCount: 4
                    )
                ], "longer than 63"
            ),
            (
                [
                    TensorInfo(name: "a", type: f32, shape: [1], byteCount: 4),
                    TensorInfo(name: "a", type: f32, shape: [1], byteCount: 4),
                ], "duplicate tensor name"
            ),
            (
                [TensorInfo(name: "a", type: f32, shape: [1, 1, 1, 1, 1], byteCount: 4)],
                "5 dimensions"
            ),
            ([TensorInfo(name: "a", type: f32, shape: [3], byteCount: 4)], "do not fit"),
            ([TensorInfo(name: "a", type: .ggml(.Q8_0), shape: [33], byteCount: 34)], "do not fit"),
            (
                [TensorInfo(name: "a", type: .dense(.u16), shape: [1], byteCount: 2)],
                "no type for U16"
            ),
        ]
        for (plan, message) in plans {
            var w = GGUFWriter(path: dir + "/x.gguf")
            #expect(
                performing: { try w.begin(metadata: [:], plan: plan) },
                throws: { "\($0)".contains(message) })
        }
        var w = GGUFWriter(path: dir + "/x.gguf", alignment: 48)
        #expect(
            performing: { try w.begin(metadata: [:], plan: []) },
            throws: { "\($0)".contains("not a power of two") })
        var w2 = GGUFWriter(path: dir + "/x.gguf", alignment: 64)
        #expect(
            performing: { try w2.begin(metadata: ["general.alignment": .uint32(128)], plan: []) },
            throws: { "\($0)".contains("conflicts") })
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test("Tensors out of plan order, wrong sizes or missing leave no file behind")
    func streamingErrors() throws {
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = try #require(TensorInfo(name: "a", type: .dense(.f32), shape: [2]))
        let b = try #require(TensorInfo(name: "b", type: .dense(.f32), shape: [2]))
        let eight = [UInt8](repeating: 1, count: 8)
        do {
            var w = GGUFWriter(path: dir + "/x.gguf")
            try w.begin(metadata: [:], plan: [a, b])
            try eight.withUnsafeBytes { raw in
                #expect(
                    performing: { try w.write(b, bytes: raw) },
                    throws: { "\($0)".contains("expected 'a'") })
                #expect(
                    performing: {
                        try w.write(a, bytes: UnsafeRawBufferPointer(rebasing: raw[0..<4]))
                    },
                    throws: { "\($0)".contains("has 4 bytes, planned 8") })
                try w.write(a, bytes: raw)
            }
            #expect(performing: { try w.commit() }, throws: { "\($0)".contains("only 1 of 2") })
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test("Arrays nested to the cap round-trip; one level more is refused")
    func nestingCap() throws {
        func nested(_ levels: Int) -> MetadataValue {
            var v = MetadataValue.array([.uint16(9)], elementType: .uint16)
            for _ in 1..<levels { v = .array([v], elementType: .array) }
            return v
        }
        let dir = TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let deepest = nested(GGUFLimits.maxArrayDepth)
        try Self.write(dir + "/ok.gguf", metadata: ["deep": deepest], tensors: [])
        #expect(try GGUFFile(path: dir + "/ok.gguf").metadata["deep"] == deepest)
        var w = GGUFWriter(path: dir + "/x.gguf")
        #expect(
            performing: {
                try w.begin(metadata: ["deep": nested(GGUFLimits.maxArrayDepth + 1)], plan: [])
            }, throws: { "\($0)".contains("nested deeper") })
    }
}

import Foundation
import Formats
import Testing
import TestSupport

@Suite("Safetensors writer")
struct SafetensorsWriterTests {
    /// The fixture's tensors, in name order (not the file's order).
    static func fixtureTensors() throws -> [(String, DType, [Int], [UInt8])] {
        try ST.expectedDTypes().map { e in
            (e.name, try #require(DType(rawValue: e.dtype)), e.shape, e.bytes)
        }
    }

    @Test("same tensors and metadata give a file byte-identical to safetensors.numpy.save_file")
    func byteIdentical() throws {
        let dir = TestPaths.temporaryDirectory()
        let ours = dir + "/dtypes.safetensors"
        try ST.writeWithUs(try Self.fixtureTensors(), metadata: ["format": .string("np")], to: ours)
        #expect(try ST.read(ours) == ST.read(TestPaths.fixture("safetensors/dtypes.safetensors")))

        let f4 = dir + "/f4.safetensors"
        try ST.writeWithUs(
            [("fp4", .f4, [2, 4], [0x21, 0x43, 0x65, 0xF7])], metadata: [:], to: f4)
        #expect(try ST.read(f4) == ST.read(TestPaths.fixture("safetensors/f4.safetensors")))

        let empty = dir + "/empty.safetensors"
        try ST.writeWithUs([], metadata: [:], to: empty)
        #expect(try ST.read(empty) == ST.read(TestPaths.fixture("safetensors/empty.safetensors")))
        #expect(try ST.read(empty) == [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
    }

    @Test("the doc's example: one F32 attn.0 [1,2,3] gives N = 64 and no padding")
    func docVector() throws {
        let path = TestPaths.temporaryDirectory() + "/a.safetensors"
        var values: [UInt8] = []
        for v: Float in [0, 1, 2, 3, 4, 5] { withUnsafeBytes(of: v) { values += $0 } }
        try ST.writeWithUs([("attn.0", .f32, [1, 2, 3], values)], metadata: [:], to: path)
        let expected =
            [0x40, 0, 0, 0, 0, 0, 0, 0]
            + Array(#"{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}"#.utf8)
            + values
        #expect(try ST.read(path) == expected)
    }

    @Test(
        "names needing JSON escapes and non-ASCII are written as serde_json writes them",
        .enabled(if: Python.available))
    func escapes() throws {
        let dir = TestPaths.temporaryDirectory()
        let names = [
            "q\"uote", "back\\slash", "tab\tnew\nline", "ctl\u{01}\u{1F}\u{7F}", "ünï/ç😀", "",
            "b\u{08}f\u{0C}r\r",
        ]
        let r = try Python.run(
            """
            import sys, json, numpy as np
            from safetensors.numpy import save_file
            names = json.loads(sys.argv[2])
            save_file({n: np.full((i + 1,), i, np.int16) for i, n in enumerate(names)}, sys.argv[1],
                      metadata={"k\\"ey\\u0001": "v\\u00e9\\n"})
            """,
            [dir + "/py.safetensors", MetadataValue.array(names.map { .string($0) }).jsonString()])
        try #require(r.status == 0, "\(r.stderr)")
        let tensors: [(String, DType, [Int], [UInt8])] = names.enumerated().map { i, n in
            var b: [UInt8] = []
            for _ in 0...i { withUnsafeBytes(of: Int16(i).littleEndian) { b += $0 } }
            return (n, .i16, [i + 1], b)
        }
        try ST.writeWithUs(
            tensors, metadata: ["k\"ey\u{01}": .string("vé\n")], to: dir + "/ours.safetensors")
        #expect(try ST.read(dir + "/ours.safetensors") == ST.read(dir + "/py.safetensors"))
        let back = try SafetensorsFile(path: dir + "/ours.safetensors")
        #expect(Set(back.tensors.map(\.name)) == Set(names))
        #expect(back.metadata == ["k\"ey\u{01}": .string("vé\n")])
    }

    @Test(
        "Python reads back what we write, value for value, with several metadata keys",
        .enabled(if: Python.available))
    func pythonReadsBack() throws {
        let dir = TestPaths.temporaryDirectory()
        let path = dir + "/ours.safetensors"
        let numpyPath = dir + "/numpy.safetensors"
        let tensors = try Self.fixtureTensors()
        try ST.writeWithUs(
            tensors, metadata: ["format": .string("np"), "a": .string("1"), "b": .string("two")],
            to: path)
        // The binding's numpy path knows numpy's own dtypes (+ bfloat16 through ml_dtypes).
        let fp8 = tensors.filter { $0.0.hasPrefix("f8_") }.map(\.0)
        try ST.writeWithUs(tensors.filter { !fp8.contains($0.0) }, metadata: [:], to: numpyPath)
        let r = try Python.run(
            """
            import sys, json
            import ml_dtypes  # registers bfloat16 with numpy
            import torch
            from safetensors import safe_open
            from safetensors.numpy import load_file
            want = json.load(open(sys.argv[3]))
            got = load_file(sys.argv[2])
            numpy_ok = sorted(k for k in got if got[k].tobytes().hex() == want[k]["hex"]
                              and list(got[k].shape) == want[k]["shape"])
            with safe_open(sys.argv[1], framework="pt") as f:
                torch_ok = sorted(
                    k for k in f.keys()
                    if f.get_tensor(k).reshape(-1).view(torch.uint8).numpy().tobytes().hex() == want[k]["hex"]
                    and list(f.get_tensor(k).shape) == want[k]["shape"]
                    and f.get_slice(k).get_dtype() == want[k]["dtype"])
                meta = f.metadata()
            print(json.dumps({"numpy": numpy_ok, "torch": torch_ok, "meta": meta}, sort_keys=True))
            """, [path, numpyPath, TestPaths.fixture("safetensors/dtypes.json")])
        try #require(r.status == 0, "\(r.stderr)")
        let doc = try JSON.parse(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        let numpyOK = Set((doc["numpy"]?.arrayValue ?? []).compactMap(\.stringValue))
        #expect(numpyOK == Set(tensors.map(\.0)).subtracting(fp8))
        let torchOK = Set((doc["torch"]?.arrayValue ?? []).compactMap(\.stringValue))
        #expect(torchOK == Set(tensors.map(\.0)))
        #expect(
            doc["meta"]
                == .object(["a": .string("1"), "b": .string("two"), "format": .string("np")]))
    }

    @Test("our writer's output reads back through our reader with the plan's offsets")
    func roundTrip() throws {
        let path = TestPaths.temporaryDirectory() + "/rt.safetensors"
        var sink = SafetensorsWriter(path: path)
        let tensors = try Self.fixtureTensors()
        let plan = tensors.map {
            TensorInfo(name: $0.0, type: .dense($0.1), shape: $0.2, byteCount: $0.3.count)
        }
        try sink.begin(metadata: [:], plan: plan)
        let layout = try #require(sink.layout)
        // Written in reverse plan order: offsets come from the plan, not the arrival order.
        for (info, t) in zip(plan, tensors).reversed() { try ST.write(t.3, info, into: &sink) }
        try sink.commit()
        let back = try SafetensorsFile(path: path)
        #expect(back.tensors == layout.tensors)
        #expect(try back.buffer.count == layout.fileSize)
        #expect(back.headerSize % 8 == 0)
        for t in tensors {
            let info = try #require(back.tensor(named: t.0))
            #expect(try back.bytes(of: info).bytes == t.3)
            // Every tensor starts aligned to its element size (wider types come first).
            if let size = t.1.byteSize { #expect(info.location.offset % size == 0, "\(t.0)") }
        }
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
    }

    @Test("bad plans and writes are errors, and an uncommitted writer leaves no file")
    func rejects() throws {
        let dir = TestPaths.temporaryDirectory()
        let path = dir + "/x.safetensors"
        func beginError(_ metadata: Metadata, _ plan: [TensorInfo]) -> FormatError? {
            var sink = SafetensorsWriter(path: path)
            do { try sink.begin(metadata: metadata, plan: plan) } catch { return error }
            return nil
        }
        let a = TensorInfo(name: "a", type: .dense(.f32), shape: [2], byteCount: 8)
        let q = TensorInfo(name: "q", type: .ggml(.Q4_0), shape: [32], byteCount: 18)
        #expect(
            beginError([:], [q])?.reason
                == .unsupported("safetensors stores dense dtypes only, not Q4_0"))
        #expect(
            beginError([:], [TensorInfo(name: "a", type: .dense(.f32), shape: [2], byteCount: 7)])?
                .field == "a")
        #expect(beginError([:], [a, a])?.reason == .invalid("duplicate tensor name"))
        #expect(
            beginError(
                [:], [TensorInfo(name: "__metadata__", type: .dense(.u8), shape: [1], byteCount: 1)]
            ) != nil)
        let meta = beginError(["n": .int64(5)], [a])
        #expect(meta?.field == "__metadata__[\"n\"]")
        #expect(meta?.message.contains("must be strings") == true)

        do {
            var sink = SafetensorsWriter(path: path)
            try sink.begin(metadata: [:], plan: [a])
            let other = TensorInfo(name: "b", type: .dense(.f32), shape: [2], byteCount: 8)
            #expect(throws: FormatError.self) {
                try ST.write([UInt8](repeating: 0, count: 8), other, into: &sink)
            }
            #expect(throws: FormatError.self) {
                try ST.write([UInt8](repeating: 0, count: 4), a, into: &sink)
            }
            #expect(throws: FormatError.self) { try sink.commit() }  // "a" never written
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir)
        #expect(left.isEmpty, "\(left)")
    }
}

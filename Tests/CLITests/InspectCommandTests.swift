import Foundation
import Testing
import TestSupport

@Suite("ckpt inspect")
struct InspectCommandTests {
    @Test("inspect --json lists a safetensors file's tensors in file order with row-major shapes",
          .enabled(if: Python.available))
    func inspectSafetensors() throws {
        let dir = TestPaths.temporaryDirectory()
        let path = dir + "/t.safetensors"
        let py = try Python.run("""
            import sys, numpy as np
            from safetensors.numpy import save_file
            save_file({"b.weight": np.ones((3, 4), np.float32), "a.bias": np.zeros((5,), np.float16),
                       "c.ids": np.arange(6, dtype=np.int64).reshape(2, 3)}, sys.argv[1],
                      metadata={"format": "pt", "note": "x"})
            """, [path])
        try #require(py.status == 0, "\(py.stderr)")
        let r = try CLI.run(["inspect", path, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let doc = try #require(try CLI.json(r) as? [String: Any])
        #expect(doc["format"] as? String == "safetensors")
        let meta = try #require(doc["metadata"] as? [String: Any])
        #expect(meta["note"] as? String == "x")
        let tensors = try #require(doc["tensors"] as? [[String: Any]])
        // The reference writer orders by dtype alignment, then name: I64, F32, F16.
        #expect(tensors.map { $0["name"] as? String } == ["c.ids", "b.weight", "a.bias"])
        #expect(tensors.map { $0["dtype"] as? String } == ["I64", "F32", "F16"])
        #expect(tensors.map { $0["shape"] as? [Int] } == [[2, 3], [3, 4], [5]])
    }

    @Test("inspect prints a readable table with totals")
    func inspectTable() throws {
        let dir = TestPaths.temporaryDirectory()
        let path = dir + "/x.npy"
        // A v1 .npy header for a (2, 3) float32 array, written byte by byte.
        var header = Array("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }".utf8)
        while (10 + header.count + 1) % 64 != 0 { header.append(0x20) }
        header.append(0x0A)
        var file: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)]
        file += header + [UInt8](repeating: 0, count: 24)
        try Data(file).write(to: URL(fileURLWithPath: path))
        let r = try CLI.run(["inspect", path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("format npy"))
        #expect(r.stdout.contains("[2, 3]"))
        #expect(r.stdout.contains("total  1 tensors, 6 parameters, 24 bytes"))
    }

    @Test("a malformed file is an error naming the file and offset, with exit status 2")
    func malformed() throws {
        let dir = TestPaths.temporaryDirectory()
        let path = dir + "/bad.safetensors"
        // Header length 1000 in a 20-byte file.
        var bytes: [UInt8] = [0xE8, 0x03, 0, 0, 0, 0, 0, 0]
        bytes += Array("{\"a\":1}    ".utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let r = try CLI.run(["inspect", path])
        #expect(r.status == 2)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.hasPrefix("error: "))
        #expect(r.stderr.contains(path))
        #expect(r.stderr.contains("offset"))
    }

    @Test("a missing file is an error, not a crash")
    func missing() throws {
        let r = try CLI.run(["inspect", "/nonexistent/model.gguf"])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("error: "))
    }

    @Test("bad usage exits 64 with a usage message")
    func usage() throws {
        let r = try CLI.run(["inspect"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("Usage") || r.stderr.contains("usage"))
    }

    @Test("the real SmolLM2 GGUF lists the same tensors as gguf-py",
          .enabled(if: Python.available && TestPaths.model("smollm2-135m-instruct-q4_1.gguf") != nil))
    func smollm2() throws {
        let path = try #require(TestPaths.model("smollm2-135m-instruct-q4_1.gguf"))
        let r = try CLI.run(["inspect", path, "--json"])
        try #require(r.status == 0, "\(r.stderr)")
        let doc = try #require(try CLI.json(r) as? [String: Any])
        let ours = try #require(doc["tensors"] as? [[String: Any]]).map {
            "\($0["name"] ?? "") \($0["dtype"] ?? "") \($0["shape"] as? [Int] ?? [])"
        }
        let py = try Python.run("""
            import sys, gguf
            r = gguf.GGUFReader(sys.argv[1])
            for t in r.tensors:
                print(t.name, t.tensor_type.name, [int(x) for x in reversed(t.shape.tolist())])
            """, [path])
        try #require(py.status == 0, "\(py.stderr)")
        let theirs = py.stdout.split(separator: "\n").map(String.init)
        #expect(ours.count == theirs.count)
        #expect(ours == theirs)
        let meta = try #require(doc["metadata"] as? [String: Any])
        #expect(meta["general.architecture"] as? String == "llama")
        #expect((meta["tokenizer.ggml.tokens"] as? [Any])?.count == 49152)
    }
}

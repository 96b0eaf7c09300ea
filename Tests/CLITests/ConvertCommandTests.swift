import Foundation
import Testing
import TestSupport

@Suite("ckpt convert", .enabled(if: Python.available))
struct ConvertCommandTests {
    /// Writes a small safetensors file with the reference library.
    func makeSource(_ path: String) throws {
        let py = try Python.run("""
            import sys, numpy as np
            from safetensors.numpy import save_file
            rng = np.random.default_rng(7)
            save_file({"layer.weight": rng.standard_normal((64, 32)).astype(np.float32),
                       "layer.bias": rng.standard_normal((64,)).astype(np.float32),
                       "half": rng.standard_normal((3, 5)).astype(np.float16),
                       "ids": np.arange(10, dtype=np.int32),
                       "scalar": np.array(3.5, dtype=np.float32)}, sys.argv[1])
            """, [path])
        try #require(py.status == 0, "\(py.stderr)")
    }

    @Test("safetensors → GGUF → npz → safetensors keeps every value", arguments: [false, true])
    func roundTrip(viaJSON: Bool) throws {
        let dir = TestPaths.temporaryDirectory()
        try makeSource(dir + "/a.safetensors")
        for (src, dst) in [("a.safetensors", "b.gguf"), ("b.gguf", "c.npz"), ("c.npz", "d.safetensors")] {
            var args = ["convert", dir + "/" + src, dir + "/" + dst]
            if viaJSON { args.append("--json") }
            let r = try CLI.run(args)
            #expect(r.status == 0, "\(src) → \(dst): \(r.stderr)")
            if viaJSON {
                let doc = try #require(try CLI.json(r) as? [String: Any])
                #expect(doc["destination"] as? String == dir + "/" + dst)
            }
        }
        let check = try Python.run("""
            import sys, numpy as np, gguf
            from safetensors.numpy import load_file
            d = sys.argv[1]
            a = load_file(d + "/a.safetensors")
            g = {t.name: t for t in gguf.GGUFReader(d + "/b.gguf").tensors}
            z = np.load(d + "/c.npz")
            e = load_file(d + "/d.safetensors")
            assert set(a) == set(g) == set(z.files) == set(e), (set(a), set(g), set(z.files), set(e))
            for k, v in a.items():
                gv = np.asarray(g[k].data).reshape(v.shape)
                assert gv.dtype == v.dtype and np.array_equal(gv, v), k
                assert z[k].dtype == v.dtype and z[k].shape == v.shape and np.array_equal(z[k], v), k
                assert e[k].dtype == v.dtype and np.array_equal(e[k], v), k
            print("ok")
            """, [dir])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("ok"))
        #expect(strayFiles(in: dir, expected: ["a.safetensors", "b.gguf", "c.npz", "d.safetensors"]).isEmpty)
    }

    @Test("--dtype casts floating tensors with round-to-nearest-even and leaves integers alone",
          arguments: ["bf16", "f16"])
    func dtypeCast(dtype: String) throws {
        let dir = TestPaths.temporaryDirectory()
        try makeSource(dir + "/a.safetensors")
        let r = try CLI.run(["convert", dir + "/a.safetensors", dir + "/out.safetensors", "--dtype", dtype])
        #expect(r.status == 0, "\(r.stderr)")
        let check = try Python.run("""
            import sys, json, struct, numpy as np, ml_dtypes
            from safetensors.numpy import load_file
            d, dt = sys.argv[1], sys.argv[2]
            a = load_file(d + "/a.safetensors")
            raw = open(d + "/out.safetensors", "rb").read()
            n = struct.unpack("<Q", raw[:8])[0]; hdr = json.loads(raw[8:8+n]); data = raw[8+n:]
            target = ml_dtypes.bfloat16 if dt == "bf16" else np.float16
            for k, v in a.items():
                e = hdr[k]; b, en = e["data_offsets"]
                if v.dtype.kind == "f":
                    assert e["dtype"] == dt.upper(), (k, e["dtype"])
                    ours = np.frombuffer(data[b:en], dtype=target).reshape(e["shape"])
                    want = v.astype(target)
                    assert np.array_equal(ours.view(np.uint16), want.view(np.uint16)), k
                else:
                    assert e["dtype"] == "I32" and data[b:en] == v.tobytes(), k
            print("ok")
            """, [dir, dtype])
        #expect(check.status == 0, "\(check.stderr)")
    }

    @Test("an unknown destination extension without --to is an error and writes nothing")
    func noFormat() throws {
        let dir = TestPaths.temporaryDirectory()
        try makeSource(dir + "/a.safetensors")
        let r = try CLI.run(["convert", dir + "/a.safetensors", dir + "/out.weights"])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("error: "))
        #expect(r.stderr.contains("--to"))
        #expect(strayFiles(in: dir, expected: ["a.safetensors"]).isEmpty)
    }

    @Test("BF16 into npz is refused with a hint, and nothing is written")
    func npzBF16() throws {
        let dir = TestPaths.temporaryDirectory()
        try makeSource(dir + "/a.safetensors")
        let r1 = try CLI.run(["convert", dir + "/a.safetensors", dir + "/b.safetensors", "--dtype", "bf16"])
        try #require(r1.status == 0, "\(r1.stderr)")
        let r = try CLI.run(["convert", dir + "/b.safetensors", dir + "/c.npz"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("BF16"))
        #expect(r.stderr.contains("--dtype"))
        #expect(strayFiles(in: dir, expected: ["a.safetensors", "b.safetensors"]).isEmpty)
    }

    @Test("a corrupt source leaves no output and no temporary file")
    func corruptSource() throws {
        let dir = TestPaths.temporaryDirectory()
        try makeSource(dir + "/a.safetensors")
        // Cut the file short: the header now promises more data than there is.
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.safetensors"))
        try data.prefix(data.count - 7).write(to: URL(fileURLWithPath: dir + "/cut.safetensors"))
        let r = try CLI.run(["convert", dir + "/cut.safetensors", dir + "/out.gguf"])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("error: "))
        #expect(r.stderr.contains("cut.safetensors"))
        #expect(strayFiles(in: dir, expected: ["a.safetensors", "cut.safetensors"]).isEmpty)
    }

    @Test("convert records its source and output in the catalog, output with the source as parent")
    func catalogLineage() throws {
        let dir = TestPaths.temporaryDirectory()
        try makeSource(dir + "/a.safetensors")
        let db = dir + "/catalog.sqlite"
        let r = try CLI.run(["convert", dir + "/a.safetensors", dir + "/b.gguf", "--dtype", "f16", "--catalog", db])
        try #require(r.status == 0, "\(r.stderr)")
        let list = try CLI.run(["list", "--json", "--catalog", db])
        try #require(list.status == 0, "\(list.stderr)")
        let entries = try #require(try CLI.json(list) as? [[String: Any]])
        #expect(entries.count == 2)
        let source = try #require(entries.first { ($0["path"] as? String)?.hasSuffix("a.safetensors") == true })
        let output = try #require(entries.first { ($0["path"] as? String)?.hasSuffix("b.gguf") == true })
        #expect(output["parent_id"] as? Int == source["id"] as? Int)
        #expect(output["operation"] as? String == "convert --to gguf --dtype f16")
        #expect(output["format"] as? String == "gguf")
        let files = try #require(output["files"] as? [[String: Any]])
        #expect((files.first?["sha256"] as? String)?.count == 64)

        // --no-catalog leaves the database untouched.
        let r2 = try CLI.run(["convert", dir + "/a.safetensors", dir + "/c.npz", "--no-catalog", "--catalog", db])
        try #require(r2.status == 0, "\(r2.stderr)")
        let list2 = try CLI.run(["list", "--json", "--catalog", db])
        #expect((try CLI.json(list2) as? [Any])?.count == 2)
    }

    @Test("SmolLM2 GGUF Q4_1 → F32 safetensors equals gguf-py's dequantize",
          .enabled(if: TestPaths.model("smollm2-135m-instruct-q4_1.gguf") != nil))
    func smollm2() throws {
        let src = try #require(TestPaths.model("smollm2-135m-instruct-q4_1.gguf"))
        let dir = TestPaths.temporaryDirectory()
        let r = try CLI.run(["convert", src, dir + "/smol.safetensors"])
        try #require(r.status == 0, "\(r.stderr)")
        let check = try Python.run("""
            import sys, numpy as np, gguf
            from gguf.quants import dequantize
            from safetensors import safe_open
            r = gguf.GGUFReader(sys.argv[1])
            with safe_open(sys.argv[2], "np") as f:
                assert len(list(f.keys())) == len(r.tensors)
                types = set()
                for t in r.tensors:
                    want = dequantize(t.data, t.tensor_type).astype(np.float32).reshape([int(x) for x in reversed(t.shape)])
                    got = f.get_tensor(t.name)
                    assert got.dtype == np.float32 and got.shape == want.shape, t.name
                    assert np.array_equal(got, want), t.name
                    types.add(t.tensor_type.name)
            print(sorted(types))
            """, [src, dir + "/smol.safetensors"])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("Q4_1"))
        try? FileManager.default.removeItem(atPath: dir)
    }
}

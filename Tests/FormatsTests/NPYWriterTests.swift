import Foundation
import Formats
import Testing
import TestSupport

@Suite("npy and npz writers")
struct NPYWriterTests {
    /// Little-endian C-order fixtures written by np.save: our file must be identical.
    static let plain = [
        "le_f2", "le_f4", "le_f8", "le_b1", "le_u1", "le_i1", "le_i2", "le_i4", "le_i8",
        "le_u2", "le_u4", "le_u8", "le_c8", "scalar_f4", "empty_f4", "empty_i2_3d", "vector_u1",
    ]

    @Test("npy files are byte-identical to np.save's", arguments: plain)
    func identical(name: String) throws {
        let path = NumPyManifest.path(name + ".npy")
        let source = try NPYFile(path: path)
        let t = source.tensors[0]
        let header = try NPYWriter.header(dtype: try #require(t.type.dense), shape: t.shape)
        #expect(header == Array(source.bytes.bytes[..<source.header.dataOffset]))
        #expect(header.count % 64 == 0)

        let dir = TestPaths.temporaryDirectory("npy-writer")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var w = NPYWriter(path: dir + "/out.npy")
        try w.begin(metadata: [:], plan: [t])
        let data = try source.bytes(of: t)
        try withExtendedLifetime(data) { try w.write(t, bytes: data.raw) }
        try w.commit()
        let ours = try Data(contentsOf: URL(fileURLWithPath: dir + "/out.npy"))
        let theirs = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(ours == theirs)
    }

    @Test("the header text is numpy's, with growth padding and 64-byte alignment")
    func headerText() throws {
        let h = try NPYWriter.header(dtype: .f16, shape: [2, 3])
        #expect(Array(h[0..<10]) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, 0x76, 0])
        let text = String(decoding: h[10...], as: UTF8.self)
        #expect(
            text.hasPrefix(
                "{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }"
                    + String(repeating: " ", count: 20)))
        #expect(text.hasSuffix(" \n") && h.count == 128)
        let scalar = String(
            decoding: try NPYWriter.header(dtype: .bool, shape: [])[10...], as: UTF8.self)
        #expect(scalar.hasPrefix("{'descr': '|b1', 'fortran_order': False, 'shape': (), } "))
        let one = String(
            decoding: try NPYWriter.header(dtype: .i64, shape: [7])[10...], as: UTF8.self)
        #expect(one.hasPrefix("{'descr': '<i8', 'fortran_order': False, 'shape': (7,), }"))
    }

    @Test(
        "types numpy cannot hold are refused, naming the tensor",
        arguments: [DType.bf16, .f8e4m3, .f8e5m2, .f4])
    func unsupported(dtype: DType) throws {
        let t = try #require(TensorInfo(name: "layer.w", type: .dense(dtype), shape: [2, 4]))
        let dir = TestPaths.temporaryDirectory("npz-writer")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var w = NPZWriter(path: dir + "/x.npz")
        let e = try #require(formatError { try w.begin(metadata: [:], plan: [t]) })
        #expect(e.field == "layer.w")
        #expect(e.message.contains("layer.w") && e.message.contains(dtype.rawValue))
        #expect({ if case .unsupported = e.reason { true } else { false } }())
        let q = TensorInfo(name: "q", type: .ggml(.Q4_0), shape: [32], byteCount: 18)
        #expect(formatError { try w.begin(metadata: [:], plan: [q]) } != nil)
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.npz"))
    }

    /// Copies every tensor of `source` into an npz at `path`.
    static func copy(_ source: some TensorSource, to path: String) throws {
        var w = NPZWriter(path: path)
        try w.begin(metadata: [:], plan: source.tensors)
        for t in source.tensors {
            // Keep the slice (maybe a fresh buffer) alive while its raw pointer is used.
            let data = try source.bytes(of: t)
            try withExtendedLifetime(data) { try w.write(t, bytes: data.raw) }
        }
        try w.commit()
    }

    @Test("an npz is byte-identical to np.savez's")
    func npzIdentical() throws {
        let dir = TestPaths.temporaryDirectory("npz-writer")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for name in ["savez", "positional"] {
            let path = NumPyManifest.path(name + ".npz")
            try Self.copy(try NPZFile(path: path), to: dir + "/\(name).npz")
            let ours = try Data(contentsOf: URL(fileURLWithPath: dir + "/\(name).npz"))
            #expect(ours == (try Data(contentsOf: URL(fileURLWithPath: path))), "\(name)")
        }
    }

    @Test("np.load reads what we write, value for value", .enabled(if: Python.available))
    func numpyLoads() throws {
        let dir = TestPaths.temporaryDirectory("npz-writer")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Re-encode the compressed, Fortran and big-endian fixtures: all become C-order LE.
        try Self.copy(
            try NPZFile(path: NumPyManifest.path("savez_compressed.npz")), to: dir + "/a.npz")
        var mixed: [TensorInfo] = []
        var sources: [String: NPYFile] = [:]
        for n in [
            "fortran_i2_3d", "fortran_be_f8", "be_c8", "be_u2", "scalar_f4", "empty_i2_3d", "le_u8",
        ] {
            let f = try NPYFile(path: NumPyManifest.path(n + ".npy"))
            sources[n] = f
            mixed.append(f.tensors[0])
        }
        var w = NPZWriter(path: dir + "/b.npz")
        try w.begin(metadata: [:], plan: mixed)
        for t in mixed {
            let data = try #require(sources[t.name]).bytes(of: t)
            try withExtendedLifetime(data) { try w.write(t, bytes: data.raw) }
        }
        try w.commit()
        let script = """
            import sys, numpy as np
            fx = sys.argv[1]
            a = np.load(sys.argv[2])
            ref = np.load(fx + '/savez_compressed.npz')
            assert list(a.files) == list(ref.files), (a.files, ref.files)
            for k in ref.files:
                assert a[k].dtype == ref[k].dtype and a[k].shape == ref[k].shape and (a[k] == ref[k]).all(), k
            b = np.load(sys.argv[3])
            for k in b.files:
                r = np.load(fx + '/' + k + '.npy')
                assert b[k].dtype == r.dtype.newbyteorder('<') or r.dtype.itemsize == 1, (k, b[k].dtype, r.dtype)
                assert b[k].shape == r.shape and (b[k] == r).all() and b[k].flags.c_contiguous, (k, b[k], r)
            print(len(a.files) + len(b.files))
            """
        let r = try Python.run(
            script, [TestPaths.fixture("numpy"), dir + "/a.npz", dir + "/b.npz"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "12")
    }

    @Test("a plan is checked before anything is written, and writes must follow it")
    func planChecks() throws {
        let dir = TestPaths.temporaryDirectory("npz-writer")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = try #require(TensorInfo(name: "a", type: .dense(.f32), shape: [2]))
        var w = NPZWriter(path: dir + "/p.npz")
        #expect(formatError { try w.begin(metadata: [:], plan: [a, a]) }?.field == "a")
        var wrongSize = a
        wrongSize.byteCount = 7
        #expect(formatError { try w.begin(metadata: [:], plan: [wrongSize]) }?.field == "a")
        try w.begin(metadata: [:], plan: [a])
        let short: [UInt8] = [0, 0, 0, 0]
        #expect(short.withUnsafeBytes { b in formatError { try w.write(a, bytes: b) } } != nil)
        #expect(formatError { try w.commit() } != nil)
        var one = NPYWriter(path: dir + "/one.npy")
        #expect(formatError { try one.begin(metadata: [:], plan: [a, a]) } != nil)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix(".") }
                .isEmpty)
    }

    @Test(
        "more than 65535 members get zip64 end records that zipfile and we read back",
        .enabled(if: Python.available))
    func zip64Count() throws {
        let dir = TestPaths.temporaryDirectory("npz-writer")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let n = 65_537
        let plan = (0..<n).map {
            TensorInfo(name: "t\($0)", type: .dense(.u8), shape: [1], byteCount: 1)
        }
        var w = NPZWriter(path: dir + "/many.npz")
        try w.begin(metadata: [:], plan: plan)
        for (i, t) in plan.enumerated() {
            let v = [UInt8(truncatingIfNeeded: i)]
            try v.withUnsafeBytes { b in try w.write(t, bytes: b) }
        }
        try w.commit()
        let npz = try NPZFile(path: dir + "/many.npz")
        #expect(npz.tensors.count == n)
        #expect(try npz.bytes(of: npz.tensors[n - 1]).bytes == [UInt8(truncatingIfNeeded: n - 1)])
        let r = try Python.run(
            "import sys, numpy as np; z = np.load(sys.argv[1]); print(len(z.files), int(z['t65536'][0]))",
            [dir + "/many.npz"])
        #expect(
            r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "\(n) \((n - 1) % 256)",
            "\(r.stderr)")
    }
}

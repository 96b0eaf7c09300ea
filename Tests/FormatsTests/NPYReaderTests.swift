import Foundation
import Formats
import Testing
import TestSupport

@Suite("npy reader")
struct NPYReaderTests {
    static let fixtures: [String] = NumPyManifest.section("npy").keys.sorted()

    @Test("every fixture reads value for value as numpy wrote it", arguments: fixtures)
    func fixture(name: String) throws {
        let x = try #require(NumPyManifest.section("npy")[name] as? [String: Any])
        let npy = try NPYFile(path: NumPyManifest.path(name + ".npy"))
        #expect(npy.format == .npy)
        let t = try #require(npy.tensors.first)
        #expect(npy.tensors.count == 1)
        #expect(t.name == name, "a lone npy is named after its file")
        #expect(t.type.description == x["dtype"] as? String)
        #expect(t.shape == x["shape"] as? [Int])
        let bytes = try npy.bytes(of: t)
        #expect(bytes.bytes == [UInt8](hex: try #require(x["hex"] as? String)))
        let materialized = t.location.bigEndian || t.location.strides != nil
        #expect(name.hasPrefix("be_") || name.hasPrefix("fortran_") ? materialized : !materialized)
        if !materialized {
            #expect(bytes.buffer === npy.bytes.buffer, "C-order little-endian data is not copied")
            #expect(bytes.offset == npy.header.dataOffset)
        }
    }

    @Test("Fortran order and big-endian are recorded in the location")
    func location() throws {
        let f = try NPYFile(path: NumPyManifest.path("fortran_i2_3d.npy")).tensors[0]
        #expect(f.location.strides == [1, 2, 6])
        #expect(!f.location.bigEndian)
        let b = try NPYFile(path: NumPyManifest.path("be_f4.npy")).tensors[0]
        #expect(b.location.bigEndian && b.location.strides == nil)
        let v = try NPYFile(path: NumPyManifest.path("vector_u1.npy")).tensors[0]
        #expect(v.location.strides == nil)
        #expect(try NPYFile(path: NumPyManifest.path("v3_f4.npy")).header.major == 3)
        #expect(try NPYFile(path: NumPyManifest.path("v2_f4.npy")).header.major == 2)
        #expect(try NPYFile(path: NumPyManifest.path("scalar_f4.npy")).tensors[0].shape == [])
    }

    @Test("complex128 has no ckpt dtype and is refused at its descr")
    func unsupportedDescr() throws {
        let path = NumPyManifest.path("unsupported_c16.npy")
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let e = try #require(formatError { _ = try NPYFile(path: path) })
        #expect(e.field == "header.descr")
        #expect(e.offset == data.firstRange(of: Array("'<c16'".utf8))?.lowerBound)
        #expect({ if case .unsupported = e.reason { true } else { false } }())
    }

    /// An npy with `text` as its header (padded like numpy) and `data` after it.
    static func npy(_ text: String, major: UInt8 = 1, data: [UInt8] = [], rawLength: UInt32? = nil)
        -> [UInt8]
    {
        var b = NPYHeader.magic + [major, 0]
        let t = Array(text.utf8) + [0x0A]
        let n = rawLength ?? UInt32(t.count)
        if major == 1 { b.append(le: UInt16(truncatingIfNeeded: n)) } else { b.append(le: n) }
        return b + t + data
    }

    static func open(_ b: [UInt8]) -> FormatError? {
        formatError { _ = try NPYFile(buffer: ByteBuffer(copying: b, name: "h.npy"), name: "h") }
    }

    struct Hostile: CustomTestStringConvertible, Sendable {
        var label: String
        var header: String
        var data: [UInt8] = []
        var token: String  // where the error must point (first occurrence in the text)
        var field: String
        var testDescription: String { label }
    }

    static let hostile: [Hostile] = [
        .init(
            label: "extra key",
            header: "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1, }",
            data: [0, 0, 0, 0], token: "'extra'", field: "header.key"),
        .init(
            label: "missing key", header: "{'descr': '<f4', 'shape': (1,), }", token: "{",
            field: "header"),
        .init(
            label: "duplicate key",
            header: "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (), }",
            token: "'descr': '<f4', 'f", field: "header.descr"),
        .init(
            label: "(n) is an int",
            header: "{'descr': '<f4', 'fortran_order': False, 'shape': (1), }",
            token: "(1)", field: "header.shape"),
        .init(
            label: "missing comma in tuple",
            header: "{'descr': '<f4', 'fortran_order': False, 'shape': (1 2), }",
            token: "2)", field: "header.shape"),
        .init(
            label: "negative dimension",
            header: "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
            token: "-1", field: "header.shape[0]"),
        .init(
            label: "leading zero",
            header: "{'descr': '<f4', 'fortran_order': False, 'shape': (01,), }",
            token: "01", field: "header.shape[0]"),
        .init(
            label: "int for a bool", header: "{'descr': '<f4', 'fortran_order': 0, 'shape': (), }",
            token: "0,", field: "header.fortran_order"),
        .init(
            label: "escape in string",
            header: "{'descr': '<f\\4', 'fortran_order': False, 'shape': (), }",
            token: "\\", field: "header.descr"),
        .init(
            label: "text after the dict",
            header: "{'descr': '<f4', 'fortran_order': False, 'shape': (), } x",
            token: "x", field: "header"),
        .init(
            label: "overflowing dimension",
            header:
                "{'descr': '<f4', 'fortran_order': False, 'shape': (123456789012345678901234,), }",
            token: "123456789012345678901234", field: "header.shape[0]"),
        .init(
            label: "overflowing product",
            header: "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
            token: "(4294967296", field: "header.shape"),
        .init(
            label: "overflowing byte size",
            header: "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }",
            token: "(2305843009213693952", field: "header.shape"),
        .init(
            label: "structured dtype",
            header: "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (), }",
            token: "[", field: "header.descr"),
        .init(
            label: "unknown descr",
            header: "{'descr': '<U8', 'fortran_order': False, 'shape': (), }",
            token: "'<U8'", field: "header.descr"),
        .init(
            label: "unknown byte order",
            header: "{'descr': '!f4', 'fortran_order': False, 'shape': (), }",
            token: "'!f4'", field: "header.descr"),
        .init(
            label: "object array", header: "{'descr': '|O', 'fortran_order': False, 'shape': (), }",
            token: "'|O'", field: "header.descr"),
        .init(label: "not a dict", header: "['descr', '<f4']", token: "[", field: "header"),
        .init(
            label: "too many dimensions",
            header: "{'descr': '<f4', 'fortran_order': False, 'shape': ("
                + String(repeating: "1, ", count: 65) + "), }",
            token: String(repeating: "1, ", count: 64) + "1", field: "header.shape"),
    ]

    @Test("hostile header dicts are refused at the offending token", arguments: hostile)
    func hostileHeader(_ h: Hostile) throws {
        let bytes = Self.npy(h.header, data: h.data)
        let e = try #require(Self.open(bytes))
        #expect(e.field == h.field)
        var at = try #require(bytes.firstRange(of: Array(h.token.utf8))?.lowerBound)
        if h.label == "too many dimensions" { at += h.token.utf8.count - 1 }
        #expect(e.offset == at, "\(e)")
        #expect(e.file == "h.npy")
    }

    @Test("header framing errors: magic, version, length cap, data size")
    func framing() throws {
        let good = "{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }"
        #expect(Self.open(Self.npy(good, data: [1, 0, 2, 0])) == nil)
        #expect(Self.open(Self.npy(good, major: 2, data: [1, 0, 2, 0])) == nil)

        var magic = Self.npy(good, data: [1, 0, 2, 0])
        magic[1] = 0x4F
        #expect(Self.open(magic)?.field == "magic")

        let v4 = Self.npy(good, major: 4, data: [1, 0, 2, 0])
        let e1 = try #require(Self.open(v4))
        #expect(e1.field == "version" && e1.offset == 6)

        let long = Self.npy(good, major: 2, data: [], rawLength: 10_001)
        let e2 = try #require(Self.open(long))
        #expect(e2.field == "header_length" && e2.offset == 8)
        #expect({ if case .limitExceeded = e2.reason { true } else { false } }())

        let short = Self.npy(good, data: [1, 0, 2])
        let e3 = try #require(Self.open(short))
        #expect(e3.field == "data")
        #expect(e3.offset == short.count - 3)
        #expect(e3.reason == FormatError.Reason.truncated(needed: 4, available: 3))

        let trailing = Self.npy(good, data: [1, 0, 2, 0, 9])
        #expect(Self.open(trailing)?.field == "data")

        let cut = Array(Self.npy(good, data: [1, 0, 2, 0]).prefix(20))
        let e4 = try #require(Self.open(cut))
        #expect(e4.field == "header" && e4.offset == 10)
    }

    @Test("the layouts numpy and MLX write are accepted")
    func accepted() throws {
        let headers = [
            "{'descr': '<V2', 'fortran_order': False, 'shape': (2, 3, )}",  // MLX bf16
            "{'descr': '<V2', 'fortran_order': True, 'shape': (6, )}",  // MLX 1-d
            "{\"shape\": (2,3), \"fortran_order\":False,\"descr\":\"|V2\"}",
            "  {'descr': '=V2', 'fortran_order': False, 'shape': (6,)}   ",
        ]
        for h in headers {
            let npy = try NPYFile(
                buffer: ByteBuffer(copying: Self.npy(h, data: Array(0..<12))), name: "x")
            #expect(npy.tensors[0].type == .dense(.bf16))
            #expect(npy.tensors[0].elementCount == 6)
            #expect(try npy.bytes(of: npy.tensors[0]).bytes == Array(0..<12))
        }
        let be1 = try NPYFile(
            buffer: ByteBuffer(
                copying: Self.npy(
                    "{'descr': '>u1', 'fortran_order': False, 'shape': (1,)}", data: [7])),
            name: "x")
        #expect(!be1.tensors[0].location.bigEndian, "byte order is meaningless for 1-byte items")
    }

    @Test("a tensor the file does not have is refused")
    func unknownTensor() throws {
        let npy = try NPYFile(path: NumPyManifest.path("le_f4.npy"))
        var t = npy.tensors[0]
        t.name = "other"
        #expect(formatError { _ = try npy.bytes(of: t) } != nil)
    }

    @Test(
        "flipped or truncated bytes never crash the reader",
        arguments: ["le_f4", "fortran_be_f8", "be_c8", "v3_f4", "scalar_f4"])
    func mutations(name: String) throws {
        let original = try [UInt8](
            Data(contentsOf: URL(fileURLWithPath: NumPyManifest.path(name + ".npy"))))
        var accepted = 0
        for i in 0..<original.count {
            for v: UInt8 in [0x00, 0xFF, 0x20, 0x29, 0x2C, 0x27, 0x39] {
                var b = original
                b[i] = v
                if let npy = try? NPYFile(buffer: ByteBuffer(copying: b), name: "m") {
                    _ = try? npy.bytes(of: npy.tensors[0])
                    accepted += 1
                }
            }
        }
        for n in 0..<original.count {
            #expect(
                Self.open(Array(original[..<n])) != nil, "truncated to \(n) bytes must be refused")
        }
        #expect(accepted > 0)
    }
}

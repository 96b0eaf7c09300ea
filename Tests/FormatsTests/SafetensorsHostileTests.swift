import Foundation
import Formats
import Testing
import TestSupport

/// A hostile file built byte by byte, and the error it must give.
struct HostileSafetensors: CustomTestStringConvertible, Sendable {
    enum Kind: Sendable { case truncated, invalid, limit }
    var label: String
    var bytes: [UInt8]
    var kind: Kind
    var offset: Int
    var field: String
    var message: String = ""
    var testDescription: String { label }

    /// A case whose header is `header`; `marker` locates the expected offset in it.
    static func header(
        _ label: String, _ header: String, data: [UInt8] = [], kind: Kind = .invalid,
        at marker: String, after: String = "", field: String, message: String = ""
    ) -> HostileSafetensors {
        HostileSafetensors(
            label: label, bytes: ST.file(header, data: data), kind: kind,
            offset: ST.offset(of: marker, in: header, after: after), field: field, message: message)
    }

    static let all: [HostileSafetensors] = {
        let f32a = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        let big = ST.file("{}", declared: 100_000_001)
        return [
            HostileSafetensors(
                label: "empty file", bytes: [], kind: .truncated, offset: 0, field: "header_size"),
            HostileSafetensors(
                label: "7 bytes", bytes: [1, 0, 0, 0, 0, 0, 0], kind: .truncated, offset: 0,
                field: "header_size"),
            HostileSafetensors(
                label: "header size ~1.8e19 (doc vector)",
                bytes: [0x3C, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF],
                kind: .limit, offset: 0, field: "header_size", message: "100000000"),
            HostileSafetensors(
                label: "header size cap + 1", bytes: big, kind: .limit, offset: 0,
                field: "header_size"),
            HostileSafetensors(
                label: "header size past the end of file", bytes: [0x3C, 0, 0, 0, 0, 0, 0, 0],
                kind: .truncated, offset: 0, field: "header_size"),
            HostileSafetensors(
                label: "header size 1000 in a 20-byte file",
                bytes: ST.file("{\"a\":1}    ", declared: 1000),
                kind: .truncated, offset: 0, field: "header_size"),
            HostileSafetensors(
                label: "truncated JSON", bytes: ST.file(#"{"a":"#), kind: .invalid, offset: 8 + 5,
                field: "header"),
            .header("not an object", "  [1]", at: "[", field: "header"),
            .header("trailing garbage after JSON", "{} x", at: "x", field: "header"),
            HostileSafetensors(
                label: "invalid UTF-8 in a key",
                bytes: [7, 0, 0, 0, 0, 0, 0, 0, 0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D],
                kind: .invalid, offset: 9, field: "header", message: "UTF-8"),
            .header(
                "duplicate tensor names",
                #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
                data: [1], at: #""a""#, after: "]}", field: "header", message: "duplicate"),
            .header(
                "duplicate __metadata__", #"{"__metadata__":{},"__metadata__":{}}"#,
                at: #""__metadata__""#, after: "{}", field: "header", message: "duplicate"),
            .header(
                "gap before the first tensor (doc vector)",
                #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                data: Array(repeating: 0, count: 8),
                at: "[4,8]", field: "a.data_offsets", message: "gap"),
            .header(
                "two tensors at [0,4] overlap (doc vector)",
                #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                data: [0, 0, 0, 0], at: "[0,4]", after: #""b""#, field: "b.data_offsets",
                message: "overlap"),
            .header(
                "end before begin", #"{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}"#,
                data: [0, 0, 0, 0], at: "[4,0]", field: "a.data_offsets"),
            HostileSafetensors(
                label: "a trailing byte (doc vector: 5 bytes for a 4-byte tensor)",
                bytes: ST.file(f32a, data: [0, 0, 0, 0, 9]), kind: .invalid,
                offset: 8 + f32a.utf8.count + 4, field: "data", message: "trailing"),
            HostileSafetensors(
                label: "data shorter than the last END",
                bytes: ST.file(f32a, data: [0, 0, 0]), kind: .truncated,
                offset: 8 + f32a.utf8.count + 3, field: "data"),
            .header(
                "shape x size mismatch (doc vector: [2,2] with [0,4])",
                #"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0],
                at: "[0,4]", field: "a.data_offsets", message: "needs 16"),
            .header(
                "negative dimension", #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#,
                data: [0, 0, 0, 0], at: "[-1]", field: "a.shape[0]"),
            .header(
                "float dimension", #"{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}"#,
                data: [0, 0, 0, 0], at: "[1.0]", field: "a.shape[0]"),
            .header(
                "dimension over Int.max",
                #"{"a":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]}}"#,
                data: [0, 0, 0, 0], at: "[1844", field: "a.shape[0]"),
            .header(
                "dims whose product overflows",
                #"{"a":{"dtype":"U8","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,0]}}"#,
                at: "[4294967296,", field: "a.shape", message: "overflow"),
            .header(
                "elements x bits overflows",
                #"{"a":{"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,0]}}"#,
                at: "[2305843009213693952]", field: "a.shape", message: "overflow"),
            .header(
                "negative offset", #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}"#,
                at: "[-1,0]", field: "a.data_offsets[0]"),
            .header(
                "three data_offsets", #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}"#,
                data: [0], at: "[0,1,2]", field: "a.data_offsets"),
            .header(
                "lower-case dtype is unknown",
                #"{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}"#,
                data: [0, 0, 0, 0], at: #""f32""#, field: "a.dtype", message: "unknown dtype"),
            .header(
                "dtype not a string", #"{"a":{"dtype":7,"shape":[1],"data_offsets":[0,4]}}"#,
                data: [0, 0, 0, 0], at: "7", field: "a.dtype"),
            .header(
                "missing shape", #"{"a":{"dtype":"F32","data_offsets":[0,4]}}"#,
                data: [0, 0, 0, 0],
                at: #"{"dtype""#, field: "a", message: "shape"),
            .header(
                "entry not an object", #"{"a":[1,2]}"#, at: "[1,2]", field: "a"),
            .header(
                "F4 with an odd element count does not end on a byte",
                #"{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}"#, data: [0], at: "[3]",
                field: "a.shape", message: "byte"),
            .header(
                "metadata value not a string (doc vector)",
                #"{"__metadata__":{"format":"pt","a":1}}"#,
                at: "1}", field: "__metadata__[\"a\"]", message: "integer 1"),
            .header(
                "metadata value null", #"{"__metadata__":{"a":null}}"#, at: "null",
                field: "__metadata__[\"a\"]"),
            .header(
                "metadata an array", #"{"__metadata__":["a"]}"#, at: "[", field: "__metadata__"),
        ]
    }()

    func matches(_ e: FormatError) -> Bool {
        switch (kind, e.reason) {
        case (.truncated, .truncated), (.invalid, .invalid), (.limit, .limitExceeded): break
        default: return false
        }
        return e.offset == offset && e.field == field && e.file == "t.safetensors"
            && (message.isEmpty || e.message.contains(message))
    }
}

@Suite("Safetensors hostile files")
struct SafetensorsHostileTests {
    @Test(
        "a hostile file is rejected with the right error, offset and field",
        arguments: HostileSafetensors.all)
    func hostile(_ c: HostileSafetensors) throws {
        let e = try #require(ST.error(c.bytes), "opened")
        #expect(c.matches(e), "got \(e) (\(e.reason)); want \(c.kind) at \(c.offset) \(c.field)")
    }

    @Test("mutations of a valid file open or throw FormatError, and what opens reads in bounds")
    func mutations() throws {
        let original = try ST.read(TestPaths.fixture("safetensors/dtypes.safetensors"))
        let file = try SafetensorsFile(buffer: ByteBuffer(copying: original))
        var opened = 0
        var rejected = 0
        func attempt(_ bytes: [UInt8]) -> Bool {
            guard let f = try? SafetensorsFile(buffer: ByteBuffer(copying: bytes)) else {
                rejected += 1
                return false
            }
            for t in f.tensors {
                guard let b = try? f.bytes(of: t) else {
                    Issue.record("bytes(of:) threw"); continue
                }
                #expect(b.count == t.byteCount)
                #expect(b.offset + b.count <= bytes.count)
            }
            opened += 1
            return true
        }
        for i in 0..<original.count {
            for flip: UInt8 in [0xFF, 0x01, 0x20] {
                var m = original
                m[i] ^= flip
                let ok = attempt(m)
                // Any change to the data region leaves a valid file.
                if i >= file.dataOffset { #expect(ok, "data byte \(i)") }
            }
        }
        for n in 0..<original.count {
            #expect(!attempt(Array(original.prefix(n))), "truncated to \(n)")
        }
        #expect(!attempt(original + [0]), "one trailing byte")
        #expect(opened >= 3 * (original.count - file.dataOffset))
        #expect(rejected > 1000)
    }
}

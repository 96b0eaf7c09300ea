import Foundation
import Testing
import TestSupport
@testable import Formats

/// The one-pass header scanner against the strict path (JSON tree + locator): what the
/// scanner accepts must open to exactly the same file, and whatever it declines, the error
/// is the strict path's, offset included.
@Suite("Safetensors header scanner")
struct SafetensorsScannerTests {
    /// Opens `bytes` both ways; returns (scanned, strict) outcomes as comparable text.
    func both(_ bytes: [UInt8]) -> (String, String) {
        func outcome(_ scan: Bool) -> String {
            do {
                let f = try SafetensorsFile(buffer: ByteBuffer(copying: bytes, name: "t.safetensors"), scan: scan)
                return "ok \(f.tensors) \(f.metadata) \(f.headerSize)"
            } catch {
                return "error \(error)"
            }
        }
        return (outcome(true), outcome(false))
    }

    static let typical = #"{"__metadata__":{"format":"pt","k":"v w"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"BF16","shape":[],"data_offsets":[16,18]},"c":{"dtype":"U8","shape":[0,3],"data_offsets":[18,18]}}"#

    @Test("a typical header is taken by the scanner and opens exactly as on the strict path")
    func typicalHeader() throws {
        let header = Self.typical + "    "
        let scanned = SafetensorsHeaderScanner.scan(Array(header.utf8), from: 0, base: 8)
        let result = try #require(scanned)
        #expect(result.index.records.map { result.index.name($0) } == ["a", "b", "c"])
        #expect(result.metadata["format"] == .string("pt"))
        let (a, b) = both(ST.file(header, data: [UInt8](repeating: 7, count: 18)))
        #expect(a.hasPrefix("ok"))
        #expect(a == b)
    }

    @Test("whitespace between tokens, any field order, no metadata: same file both ways")
    func layouts() throws {
        let headers = [
            "{ \"x\" : { \"shape\" : [ 4 ] , \"data_offsets\" : [ 0 , 8 ] , \"dtype\" : \"F16\" } }",
            "{\n\t\"x\":{\"data_offsets\":[0,8],\"dtype\":\"F16\",\"shape\":[2,2]}\r\n}",
            "{\"__metadata__\":{},\"x\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}",
            "{}",
        ]
        for h in headers {
            let size = h == "{}" ? 0 : 8
            let bytes = ST.file(h, data: [UInt8](repeating: 1, count: size))
            let accepted = SafetensorsHeaderScanner.scan(Array(h.utf8), from: 0, base: 8)
            #expect(accepted != nil, "\(h)")
            let (a, b) = both(bytes)
            #expect(a.hasPrefix("ok") && a == b, "\(h): \(a) vs \(b)")
        }
    }

    @Test("unusual headers are declined and give the strict path's result", arguments: [
        #"{"a\u0041":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,  // escape in a name
        #"{"é":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,  // non-ASCII name
        #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
        #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}"#,  // extra field
        #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"dtype":"F32"}}"#,  // duplicate field
        #"{"a":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}"#,
        #"{"a":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}"#,
        #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#,
        #"{"a":{"dtype":"F32","shape":[01],"data_offsets":[0,4]}}"#,
        #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}}"#,
        #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#,
        #"{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}"#,
        #"{"a":{"dtype":"F32","shape":[1]}}"#,  // missing field
        #"{"__metadata__":null,"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
        #"{"__metadata__":{"n":1},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
        #"{"__metadata__":{"k":"v","k":"w"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
        #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} x"#,  // trailing garbage
        #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},}"#,  // trailing comma
        #"{"a":[]}"#,
        #"[]"#,
        #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,  // a gap: validate's error
    ])
    func declined(_ header: String) throws {
        let bytes = ST.file(header, data: [UInt8](repeating: 0, count: 4))
        let (a, b) = both(bytes)
        #expect(a == b, "\(header)")
    }

    @Test("every byte of a typical header flipped or truncated: both paths give the same outcome")
    func mutations() throws {
        let good = ST.file(Self.typical, data: [UInt8](repeating: 7, count: 18))
        let headerEnd = 8 + Self.typical.utf8.count
        var differing: [String] = []
        for pos in 8..<headerEnd {
            for replacement: UInt8 in [0x20, 0x22, 0x30, 0x39, 0x2C, 0x7D, 0x5C, 0xC3] {
                var bytes = good
                bytes[pos] = replacement
                let (a, b) = both(bytes)
                if a != b, differing.count < 5 { differing.append("byte \(pos) → \(replacement): \(a) / \(b)") }
            }
        }
        for cut in stride(from: 8, to: good.count, by: 3) {
            var bytes = Array(good[..<cut])
            bytes.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(cut - 8).littleEndian) { Array($0) })
            let (a, b) = both(bytes)
            if a != b, differing.count < 10 { differing.append("cut \(cut): \(a) / \(b)") }
        }
        #expect(differing.isEmpty, "\(differing)")
    }

    @Test("the reference library's fixtures open the same both ways",
          arguments: ["dtypes", "metadata", "empty", "f4"])
    func fixtures(_ name: String) throws {
        let path = TestPaths.fixture("safetensors/\(name).safetensors")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let (a, b) = both(bytes)
        #expect(a.hasPrefix("ok") && a == b)
    }

    /// The header text of `names.count` one-byte U8 tensors in that order, and the file.
    static func manyTensors(_ names: [String]) -> (header: [UInt8], file: [UInt8]) {
        let entries = names.enumerated().map { k, name in
            "\"\(name)\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[\(k),\(k + 1)]}"
        }
        let header = "{" + entries.joined(separator: ",") + "}"
        return (Array(header.utf8), ST.file(header, data: [UInt8](repeating: 1, count: names.count)))
    }

    @Test("many names, alike but for one byte anywhere, are all distinct: same file both ways")
    func distinctLookalikes() throws {
        // Lengths around the hash's 8-byte words; names differing in their first, middle or last byte.
        var names: [String] = []
        for length in [1, 7, 8, 9, 16, 17, 40] {
            for k in 0..<12 {
                var chars = [Character](repeating: "a", count: length)
                chars[(k * 5) % length] = Character(UnicodeScalar(UInt8(98 + k)))
                names.append(String(chars))
            }
        }
        names = Array(Set(names)).sorted()
        let (header, bytes) = Self.manyTensors(names)
        #expect(names.count > 60)
        #expect(SafetensorsHeaderScanner.scan(header, from: 0, base: 8) != nil)
        let (a, b) = both(bytes)
        #expect(a.hasPrefix("ok") && a == b)
    }

    @Test("a repeated name among many is declined by the scanner and named by the strict path",
          arguments: [(3, 97), (0, 1), (50, 99)])
    func duplicateAmongMany(_ first: Int, _ second: Int) throws {
        var names = (0..<100).map { "model.layers.\($0).mlp.down_proj.weight" }
        names[second] = names[first]
        let (header, bytes) = Self.manyTensors(names)
        #expect(SafetensorsHeaderScanner.scan(header, from: 0, base: 8) == nil)
        // Without the repeat, the same header is the scanner's.
        names[second] = "distinct"
        #expect(SafetensorsHeaderScanner.scan(Self.manyTensors(names).header, from: 0, base: 8) != nil)
        let (a, b) = both(bytes)
        #expect(a == b)
        #expect(a.contains("duplicate") && a.contains(names[first]), "\(a)")
    }

    @Test("dtype names longer than a word are matched too", arguments: ["F8_E4M3FNUZ", "F8_E5M2FNUZ"])
    func longDTypeNames(_ dtype: String) throws {
        let text = "{\"w\":{\"dtype\":\"\(dtype)\",\"shape\":[2],\"data_offsets\":[0,2]}}"
        guard let d = DType(rawValue: dtype) else { return }
        let scanned = try #require(SafetensorsHeaderScanner.scan(Array(text.utf8), from: 0, base: 8))
        #expect(scanned.index.records.first?.dtype == d)
        let (a, b) = both(ST.file(text, data: [1, 2]))
        #expect(a.hasPrefix("ok") && a == b)
    }
}

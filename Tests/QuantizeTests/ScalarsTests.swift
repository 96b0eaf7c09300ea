import Testing
import Formats
import TestSupport
@testable import Quantize

@Suite("Scalars")
struct ScalarsTests {
    static let narrowTypes: [DType] = [.f32, .f16, .bf16, .f8e4m3, .f8e5m2]

    /// Bytes of `src` (in `from`) converted to `to`.
    func convert(_ src: [UInt8], _ from: DType, _ to: DType) throws -> [UInt8] {
        let n = src.count / from.byteSize!
        var out = [UInt8](repeating: 0, count: n * to.byteSize!)
        try src.withUnsafeBytes { s in try out.withUnsafeMutableBytes { d in try Scalars.convert(s, from: from, to: to, into: d) } }
        return out
    }

    /// True when elements i of a and b (in `t`) are identical or both NaN.
    func sameElements(_ a: [UInt8], _ b: [UInt8], _ t: DType) throws -> Int? {
        let wa = try convert(a, t, .f64), wb = try convert(b, t, .f64)
        let size = t.byteSize!
        for i in 0..<(a.count / size) {
            let x = Array(a[(i * size)..<((i + 1) * size)]), y = Array(b[(i * size)..<((i + 1) * size)])
            let dx = wa.withUnsafeBytes { $0.load(fromByteOffset: 8 * i, as: Double.self) }
            let dy = wb.withUnsafeBytes { $0.load(fromByteOffset: 8 * i, as: Double.self) }
            if x != y && !(dx.isNaN && dy.isNaN) { return i }
        }
        return nil
    }

    @Test("F64 → narrow types round like numpy / ml_dtypes", arguments: narrowTypes)
    func fromF64(_ t: DType) throws {
        let input = try fixtureBytes("scalars/input.f64")
        let expected = try fixtureBytes("scalars/\(t.rawValue).bin")
        let got = try convert(input, .f64, t)
        let bad = try sameElements(got, expected, t)
        let x = bad.map { i in input.withUnsafeBytes { $0.load(fromByteOffset: 8 * i, as: Double.self) } }
        #expect(bad == nil, "element \(bad ?? -1) (\(x ?? 0)) differs")
    }

    @Test("F32 → narrow types round like numpy / ml_dtypes", arguments: narrowTypes.dropFirst())
    func fromF32(_ t: DType) throws {
        let input = try convert(try fixtureBytes("scalars/input.f64"), .f64, .f32)
        let expected = try fixtureBytes("scalars/from_f32_\(t.rawValue).bin")
        let got = try convert(input, .f32, t)
        #expect(try sameElements(got, expected, t) == nil)
    }

    @Test("widening to F32 and narrowing back is the identity", arguments: narrowTypes)
    func roundTrip(_ t: DType) throws {
        let values = try fixtureBytes("scalars/\(t.rawValue).bin")
        let wide = try convert(values, t, .f32)
        #expect(try sameElements(try convert(wide, .f32, t), values, t) == nil)
        var floats = [Float](repeating: 0, count: values.count / t.byteSize!)
        try values.withUnsafeBytes { s in try floats.withUnsafeMutableBufferPointer { try Scalars.widen(s, from: t, into: $0) } }
        #expect(floats.withUnsafeBytes { Array($0) } == wide)
    }

    @Test("known bit patterns: bf16 NaN stays NaN, F16 overflow is inf, E4M3 overflow is NaN")
    func knownBits() throws {
        func one(_ x: Float, _ t: DType) throws -> [UInt8] { try convert(withUnsafeBytes(of: x) { Array($0) }, .f32, t) }
        #expect(try one(.nan, .bf16) == [0xC0, 0x7F])
        #expect(try one(1e5, .f16) == [0x00, 0x7C])
        #expect(try one(-1e5, .f16) == [0x00, 0xFC])
        #expect(try one(1000, .f8e4m3) == [0x7F])
        #expect(try one(448, .f8e4m3) == [0x7E])
        #expect(try one(-0.0, .f16) == [0x00, 0x80])
        #expect(try one(1e5, .f8e5m2) == [0x7C])
        #expect(try one(Float(bitPattern: 0x3F80_8000), .bf16) == [0x80, 0x3F])  // tie → even
        #expect(try one(Float(bitPattern: 0x3F81_8000), .bf16) == [0x82, 0x3F])  // tie → even (up)
    }

    @Test("integers copy only unchanged; odd sizes and unknown pairs are refused")
    func refusals() throws {
        #expect(try convert([1, 2, 3, 4], .i32, .i32) == [1, 2, 3, 4])
        #expect(throws: QuantizeError(.unsupported("conversion from I32 to F32"))) { try convert([1, 0, 0, 0], .i32, .f32) }
        #expect(throws: QuantizeError.self) { try convert([1, 0, 0], .f32, .f16) }
        var small = [UInt8](repeating: 0, count: 1)
        #expect(throws: QuantizeError.self) {
            try [UInt8](repeating: 0, count: 4).withUnsafeBytes { s in
                try small.withUnsafeMutableBytes { d in try Scalars.convert(s, from: .f32, to: .f16, into: d) }
            }
        }
    }

    @Test("a large conversion (split over threads) equals element-by-element conversion", arguments: [DType.bf16, .f16, .f8e4m3])
    func threaded(_ t: DType) throws {
        let values = randomFloats(1 << 18, seed: 8, scale: 100)
        let bytes = values.withUnsafeBytes { Array($0) }
        let whole = try convert(bytes, .f32, t)
        var single = [UInt8]()
        for i in stride(from: 0, to: bytes.count, by: 4 * 4096) {
            single += try convert(Array(bytes[i..<(i + 4 * 4096)]), .f32, t)
        }
        #expect(whole == single)
    }
}

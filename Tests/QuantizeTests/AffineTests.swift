import Testing
import Formats
import TestSupport
@testable import Quantize

struct AffineCase: CustomTestStringConvertible, Sendable {
    var dtype: DType
    var bits: Int
    var groupSize: Int
    var testDescription: String { "\(dtype.rawValue) \(bits)-bit g\(groupSize)" }
}

let affineCases: [AffineCase] = [DType.f32, .f16, .bf16].flatMap { dt in
    [2, 3, 4, 5, 6, 8].flatMap { b in [32, 64, 128].map { AffineCase(dtype: dt, bits: b, groupSize: $0) } }
}

@Suite("MLX affine")
struct AffineTests {
    static let shape = [4, 256]

    @Test("quantize and dequantize equal mx.quantize / mx.dequantize on the CPU", arguments: affineCases)
    func matchesMLX(_ c: AffineCase) throws {
        let input = try fixtureBytes("affine/input_\(c.dtype.rawValue).bin")
        let golden = try fixtureBytes("affine/\(c.dtype.rawValue)_b\(c.bits)_g\(c.groupSize).bin")
        let es = c.dtype.byteSize!
        let packedBytes = 4 * 256 * c.bits / 8, groups = 4 * 256 / c.groupSize
        let q = try input.withUnsafeBytes { w in
            try Affine.quantize(w, dtype: c.dtype, shape: Self.shape, bits: c.bits, groupSize: c.groupSize)
        }
        #expect(q.packedShape == [4, 256 * c.bits / 32])
        #expect(q.scalesShape == [4, 256 / c.groupSize])
        let packed = q.packed.flatMap { w in (0..<4).map { UInt8(truncatingIfNeeded: w >> (8 * $0)) } }
        #expect(packed == Array(golden[0..<packedBytes]))
        #expect(q.scales == Array(golden[packedBytes..<(packedBytes + groups * es)]))
        #expect(q.biases == Array(golden[(packedBytes + groups * es)..<(packedBytes + 2 * groups * es)]))

        // Dequantize MLX's own bytes and compare with mx.dequantize, rounded to the dtype.
        let deqRaw = Array(golden[(packedBytes + 2 * groups * es)...])
        var expected = [Float](repeating: 0, count: 1024)
        try deqRaw.withUnsafeBytes { src in
            try expected.withUnsafeMutableBufferPointer { try Scalars.widen(src, from: c.dtype, into: $0) }
        }
        var got = [Float](repeating: 0, count: 1024)
        try golden.withUnsafeBytes { g in
            let p = UnsafeRawBufferPointer(rebasing: g[0..<packedBytes])
            let s = UnsafeRawBufferPointer(rebasing: g[packedBytes..<(packedBytes + groups * es)])
            let b = UnsafeRawBufferPointer(rebasing: g[(packedBytes + groups * es)..<(packedBytes + 2 * groups * es)])
            try got.withUnsafeMutableBufferPointer { dst in
                try Affine.dequantize(packed: p, scales: s, biases: b, dtype: c.dtype, shape: Self.shape,
                                      bits: c.bits, groupSize: c.groupSize, into: dst)
            }
        }
        let bad = firstBitMismatch(got, expected)
        #expect(bad == nil, "first mismatch at \(bad ?? -1): \(bad.map { got[$0] } ?? 0) vs \(bad.map { expected[$0] } ?? 0)")
    }

    @Test("the documented test vectors (formats doc §6.5)")
    func docVectors() throws {
        func q(_ values: [Float], _ groupSize: Int) throws -> AffineQuantized {
            try values.withUnsafeBytes { try Affine.quantize($0, dtype: .f32, shape: [1, values.count], bits: 4, groupSize: groupSize) }
        }
        func f(_ bytes: [UInt8]) -> Float {
            Float(bitPattern: UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
        }
        let a = try q((0..<64).map { -1 + 1.5 * Float($0) / 63 }, 64)
        #expect(abs(f(a.scales) - 0.1) < 1e-6)
        #expect(f(a.biases) == -1)
        #expect(a.packed[0] == 0x2111_1000)
        let b = try q((0..<32).map { -1 + 3 * Float($0) / 31 }, 32)
        #expect(abs(f(b.scales) + 0.2) < 1e-6)
        #expect(f(b.biases) == 2)
        let c = try q([Float](repeating: 0.5, count: 32), 32)
        #expect(abs(f(c.scales) + 1e-7) < 1e-12)
        #expect(f(c.biases) == 0.5)
    }

    @Test("unsupported bits, group sizes, dtypes and shapes are refused")
    func badRequests() {
        let w = [Float](repeating: 1, count: 256)
        func run(_ shape: [Int], bits: Int = 4, group: Int = 64, dtype: DType = .f32) throws {
            _ = try w.withUnsafeBytes { try Affine.quantize($0, dtype: dtype, shape: shape, bits: bits, groupSize: group) }
        }
        #expect(throws: QuantizeError(.unsupported("affine bits 7 (supported: 2, 3, 4, 5, 6, 8)"))) { try run([4, 64], bits: 7) }
        #expect(throws: QuantizeError(.unsupported("affine group size 16 (supported: 32, 64, 128)"))) { try run([4, 64], group: 16) }
        #expect(throws: QuantizeError.self) { try run([4, 64], dtype: .f64) }
        #expect(throws: QuantizeError(.shape("last dimension 96 of shape [2, 96] is not divisible by group size 64"))) {
            _ = try Array(w[0..<192]).withUnsafeBytes { try Affine.quantize($0, dtype: .f32, shape: [2, 96], bits: 4, groupSize: 64) }
        }
        #expect(throws: QuantizeError.self) { try run([256]) }
        #expect(throws: QuantizeError.self) { try run([2, 64]) }  // 128 elements, 256 given
    }

    @Test("NaN/Inf weights are refused unless allowed", arguments: [Float.nan, .infinity])
    func nonFinite(_ bad: Float) throws {
        var w = randomFloats(128)
        w[77] = bad
        #expect(throws: QuantizeError(.nonFinite(index: 77))) {
            _ = try w.withUnsafeBytes { try Affine.quantize($0, dtype: .f32, shape: [2, 64], bits: 4, groupSize: 64) }
        }
        #expect(throws: Never.self) {
            _ = try w.withUnsafeBytes {
                try Affine.quantize($0, dtype: .f32, shape: [2, 64], bits: 4, groupSize: 64, allowNonFinite: true)
            }
        }
    }

    @Test("a large tensor quantizes identically threaded and group by group", arguments: [3, 4])
    func threaded(_ bits: Int) throws {
        let w = randomFloats(512 * 256, seed: 5)
        let whole = try w.withUnsafeBytes { try Affine.quantize($0, dtype: .f32, shape: [512, 256], bits: bits, groupSize: 64) }
        var packed: [UInt32] = [], scales: [UInt8] = []
        for r in 0..<512 {
            let row = try Array(w[(r * 256)..<((r + 1) * 256)]).withUnsafeBytes {
                try Affine.quantize($0, dtype: .f32, shape: [1, 256], bits: bits, groupSize: 64)
            }
            packed += row.packed
            scales += row.scales
        }
        #expect(whole.packed == packed)
        #expect(whole.scales == scales)
    }
}

@Suite("MLX affine: hostile parts")
struct AffineHostileTests {
    @Test("dequantize refuses parts whose sizes do not match the shape")
    func mismatchedParts() throws {
        let w = randomFloats(256)
        let q = try w.withUnsafeBytes { try Affine.quantize($0, dtype: .f32, shape: [2, 128], bits: 4, groupSize: 64) }
        func run(_ packed: [UInt32], _ scales: [UInt8], _ shape: [Int], _ n: Int = 256) throws {
            var dst = [Float](repeating: 0, count: n)
            try packed.withUnsafeBytes { p in
                try scales.withUnsafeBytes { s in
                    try q.biases.withUnsafeBytes { b in
                        try dst.withUnsafeMutableBufferPointer {
                            try Affine.dequantize(packed: p, scales: s, biases: b, dtype: .f32, shape: shape, bits: 4, groupSize: 64, into: $0)
                        }
                    }
                }
            }
        }
        #expect(throws: Never.self) { try run(q.packed, q.scales, [2, 128]) }
        #expect(throws: QuantizeError.self) { try run(Array(q.packed.dropLast()), q.scales, [2, 128]) }
        #expect(throws: QuantizeError.self) { try run(q.packed, Array(q.scales.dropLast()), [2, 128]) }
        #expect(throws: QuantizeError.self) { try run(q.packed, q.scales, [2, 128], 255) }
        #expect(throws: QuantizeError.self) { try run(q.packed, q.scales, [Int.max / 4, 128]) }
    }
}

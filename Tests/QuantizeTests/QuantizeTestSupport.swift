import Foundation
import Formats
import TestSupport
@testable import Quantize

/// Reads a fixture file's bytes (Tests/fixtures/<relative>).
func fixtureBytes(_ relative: String) throws -> [UInt8] {
    let data = try Data(contentsOf: URL(fileURLWithPath: TestPaths.fixture(relative)))
    return [UInt8](data)
}

/// Reads a fixture of little-endian float32 values.
func fixtureFloats(_ relative: String) throws -> [Float] {
    let bytes = try fixtureBytes(relative)
    return stride(from: 0, to: bytes.count, by: 4).map { i in
        Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
    }
}

/// Index of the first value whose bits differ (NaN == NaN), or nil when all are identical.
func firstBitMismatch(_ a: [Float], _ b: [Float]) -> Int? {
    guard a.count == b.count else { return min(a.count, b.count) }
    for i in a.indices where a[i].bitPattern != b[i].bitPattern && !(a[i].isNaN && b[i].isNaN) { return i }
    return nil
}

/// Dequantizes `blocks` of `t` into a new array.
func dequantize(_ t: GGMLType, _ blocks: [UInt8]) throws -> [Float] {
    let n = blocks.count / t.bytesPerBlock * t.blockSize
    var out = [Float](repeating: 0, count: n)
    try blocks.withUnsafeBytes { src in
        try out.withUnsafeMutableBufferPointer { dst in try GGMLCodec.dequantize(t, src, into: dst) }
    }
    return out
}

/// Quantizes `values` to `t` into a new byte array.
func quantize(_ t: GGMLType, _ values: [Float], allowNonFinite: Bool = false) throws -> [UInt8] {
    var out = [UInt8](repeating: 0, count: t.byteCount(elements: values.count) ?? 0)
    try values.withUnsafeBufferPointer { src in
        try out.withUnsafeMutableBytes { dst in try GGMLCodec.quantize(t, src, into: dst, allowNonFinite: allowNonFinite) }
    }
    return out
}

/// Deterministic pseudo-random floats (xorshift), roughly N(0, scale²).
func randomFloats(_ count: Int, seed: UInt64 = 42, scale: Float = 1) -> [Float] {
    var s = seed
    func next() -> Float {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        return Float(s >> 40) / Float(1 << 24)
    }
    return (0..<count).map { _ in (next() + next() + next() - 1.5) * 2 * scale }
}

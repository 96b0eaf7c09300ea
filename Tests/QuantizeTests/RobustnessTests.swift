import Testing
import Formats
@testable import Quantize

@Suite("Codec robustness")
struct RobustnessTests {
    @Test("decoding arbitrary bytes never traps, for every decodable block type",
          arguments: GGMLType.allCases.filter { GGMLCodec.codec($0) != nil })
    func arbitraryBytes(_ t: GGMLType) throws {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &+ UInt64(t.rawValue)
        var bytes = [UInt8](repeating: 0, count: 64 * t.bytesPerBlock)
        for round in 0..<8 {
            for i in bytes.indices {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                bytes[i] = round == 0 ? 0xFF : UInt8(truncatingIfNeeded: state)
            }
            _ = try dequantize(t, bytes)
        }
    }

    @Test("an empty tensor (no blocks, buffers without an address) quantizes and dequantizes to nothing",
          arguments: GGMLType.allCases.filter { GGMLCodec.canQuantize($0) || GGMLCodec.canDequantize($0) })
    func emptyTensor(_ t: GGMLType) throws {
        let noFloats = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
        let noBytes = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        if GGMLCodec.canQuantize(t) {
            try GGMLCodec.quantize(t, UnsafeBufferPointer(noFloats), into: noBytes)
        }
        if GGMLCodec.canDequantize(t) {
            try GGMLCodec.dequantize(t, UnsafeRawBufferPointer(noBytes), into: noFloats)
        }
    }

    @Test("an empty matrix (0 rows) quantizes to empty MLX affine triples and back", arguments: [4, 8])
    func emptyAffine(_ bits: Int) throws {
        let q = try Affine.quantize(
            UnsafeRawBufferPointer(start: nil, count: 0), dtype: .f32, shape: [0, 64], bits: bits,
            groupSize: 64)
        #expect(q.packed.isEmpty && q.scales.isEmpty && q.biases.isEmpty)
    }

    @Test("quantizing extreme but finite values never traps", arguments: quantizeGoldenTypes)
    func extremeValues(_ t: GGMLType) throws {
        let n = 2 * t.blockSize
        let rows: [[Float]] = [
            [Float](repeating: .greatestFiniteMagnitude, count: n),
            (0..<n).map { $0 % 2 == 0 ? Float.greatestFiniteMagnitude : -.greatestFiniteMagnitude },
            [Float](repeating: .leastNonzeroMagnitude, count: n),
            (0..<n).map { $0 == 3 ? 1e30 : 1e-30 },
        ]
        for row in rows {
            let bytes = try quantize(t, row)
            #expect(bytes.count == t.byteCount(elements: n))
            _ = try dequantize(t, bytes)
        }
    }
}

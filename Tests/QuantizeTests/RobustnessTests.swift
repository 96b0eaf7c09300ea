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

import CKernels
import CZlib
import Testing

/// The folded CRC-32 the archive checks chunks with is zlib's CRC-32 on every length,
/// alignment and starting value.
@Suite("CRC-32 by carry-less multiplication")
struct CRC32Tests {
    @Test("equals zlib's crc32 for lengths 64 … 4096 (multiples of 16), any offset and seed")
    func matchesZlib() throws {
        try #require(ck_crc32_fold_available() != 0, "no PCLMULQDQ: the archive uses zlib alone")
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        let bytes = (0..<8192).map { _ in UInt8(truncatingIfNeeded: next()) }
        var wrong = 0
        bytes.withUnsafeBufferPointer { b in
            for len in stride(from: 64, through: 4096, by: 16) {
                let offset = Int(next() % 64)
                let seed = UInt32(truncatingIfNeeded: next())
                let p = b.baseAddress! + offset
                let want = UInt32(crc32_z(UInt(seed), p, len))
                if ~ck_crc32_fold(~seed, p, len) != want { wrong += 1 }
            }
        }
        #expect(wrong == 0)
    }
}

import CKernels
import CZlib
import CZstd
import Formats
import Foundation

/// Encodes and decodes one chunk: zstd as is, or byte planes each zstd'd or stored.
///
/// One coder per worker thread: it owns a zstd compression and decompression context
/// (reusing them avoids re-allocating zstd's tables for every 4 MiB chunk) and scratch space.
final class ChunkCoder {
    private let cctx: OpaquePointer
    private let literalCtx: OpaquePointer
    private let dctx: OpaquePointer
    private let level: Int32
    /// Scratch for a chunk's planes, one after the other (split on encode, decoded on decode).
    private var plane: UnsafeMutableRawBufferPointer

    init(level: Int) {
        // zstd only fails to create a context when out of memory, as Swift's allocator traps.
        guard let c = ZSTD_createCCtx(), let l = ZSTD_createCCtx(), let d = ZSTD_createDCtx() else {
            fatalError("zstd: cannot allocate a context")
        }
        cctx = c
        literalCtx = l
        dctx = d
        self.level = Int32(level)
        plane = UnsafeMutableRawBufferPointer.allocate(
            byteCount: Archive.maxChunkSize, alignment: 64)
    }

    deinit {
        ZSTD_freeCCtx(cctx)
        ZSTD_freeCCtx(literalCtx)
        ZSTD_freeDCtx(dctx)
        plane.deallocate()
    }

    private var lowPlaneLevel: Int32 { level <= 3 ? min(level, 1) : level }

    /// Per-plane sizes of the last `encode(planes:)`, for statistics (raw, stored/compressed).
    private(set) var lastPlaneSizes: [(raw: Int, encoded: Int)] = []

    /// The encoded payload of `raw` with `codec` (`.planes` needs `width` ≥ 2 dividing the
    /// count). Returns the codec actually used: `.zstd` falls back to `.stored` when zstd
    /// does not shrink the bytes.
    func encode(_ raw: UnsafeRawBufferPointer, codec: ChunkCodec, width: Int) -> (
        ChunkCodec, [UInt8]
    ) {
        lastPlaneSizes = []
        switch codec {
        case .stored: return (.stored, Array(raw))
        case .zstd:
            if let z = compress(raw, level: level) { return (.zstd, z) }
            return (.stored, Array(raw))
        case .planes:
            precondition(width >= 2 && raw.count % width == 0 && raw.count <= plane.count)
            let n = raw.count / width
            split(raw, width: width, count: n)
            var header: [UInt8] = []
            header.reserveCapacity(5 * width)
            var bodies: [[UInt8]] = []
            for k in 0..<width {
                let p = UnsafeRawBufferPointer(rebasing: plane[(k * n)..<((k + 1) * n)])
                let body: [UInt8]
                // The exponent plane is coded (almost) literals only: its bytes are a skewed
                // alphabet without long repeats, where LZ matches cost more than Huffman saves.
                // Noise planes (mantissa bytes) skip zstd: their histogram says it cannot win.
                // Other low planes (repeats in dequantized weights) use level 1 up to the
                // default level 3: measured smaller and 2-3× faster than level 3 there.
                let top = k == width - 1
                let z =
                    top
                    ? compressLiterals(p)
                    : Self.mayCompress(p) ? compress(p, level: lowPlaneLevel) : nil
                if let z {
                    header.append(ChunkCodec.zstd.rawValue)
                    body = z
                } else {
                    header.append(ChunkCodec.stored.rawValue)
                    body = Array(p)
                }
                withUnsafeBytes(of: UInt32(body.count).littleEndian) {
                    header.append(contentsOf: $0)
                }
                lastPlaneSizes.append((n, body.count))
                bodies.append(body)
            }
            var out = header
            out.reserveCapacity(header.count + bodies.reduce(0) { $0 + $1.count })
            for b in bodies { out.append(contentsOf: b) }
            return (.planes, out)
        }
    }

    /// zstd tuned to Huffman-code literals and find almost no matches (fast strategy, 7-byte
    /// minimum match, a 64-entry hash table, one probe): near order-0 entropy at high speed.
    private func compressLiterals(_ src: UnsafeRawBufferPointer) -> [UInt8]? {
        guard src.count > 0 else { return nil }
        ZSTD_CCtx_reset(literalCtx, ZSTD_reset_session_and_parameters)
        ZSTD_CCtx_setParameter(literalCtx, ZSTD_c_strategy, Int32(ZSTD_fast.rawValue))
        ZSTD_CCtx_setParameter(literalCtx, ZSTD_c_minMatch, 7)
        ZSTD_CCtx_setParameter(literalCtx, ZSTD_c_hashLog, 6)
        ZSTD_CCtx_setParameter(literalCtx, ZSTD_c_searchLog, 1)
        let bound = ZSTD_compressBound(src.count)
        let out = [UInt8](unsafeUninitializedCapacity: bound) { buf, initialized in
            let r = ZSTD_compress2(literalCtx, buf.baseAddress, bound, src.baseAddress, src.count)
            initialized = ZSTD_isError(r) != 0 ? 0 : r
        }
        guard !out.isEmpty, out.count < src.count else { return nil }
        return out
    }

    /// zstd of `src`, or nil when it does not come out smaller.
    private func compress(_ src: UnsafeRawBufferPointer, level: Int32) -> [UInt8]? {
        guard src.count > 0 else { return nil }
        let bound = ZSTD_compressBound(src.count)
        let out = [UInt8](unsafeUninitializedCapacity: bound) { buf, initialized in
            let r = ZSTD_compressCCtx(
                cctx, buf.baseAddress, bound, src.baseAddress, src.count, level)
            initialized = ZSTD_isError(r) != 0 ? 0 : r
        }
        guard !out.isEmpty, out.count < src.count else { return nil }
        return out
    }

    /// Whether bytes with this histogram could shrink by at least 1/64 under order-0 entropy
    /// coding (Shannon bound); noise planes fail it and are stored without trying zstd.
    static func mayCompress(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let n = bytes.count
        guard n >= 4096 else { return true }
        // Four interleaved histograms break the store-to-load dependency on repeated bytes.
        var h = [Int](repeating: 0, count: 1024)
        h.withUnsafeMutableBufferPointer { h in
            let b = bytes.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: UInt8.self)
            var i = 0
            while i &+ 4 <= n {
                h[Int(b[i])] &+= 1
                h[256 &+ Int(b[i &+ 1])] &+= 1
                h[512 &+ Int(b[i &+ 2])] &+= 1
                h[768 &+ Int(b[i &+ 3])] &+= 1
                i &+= 4
            }
            while i < n {
                h[Int(b[i])] &+= 1
                i &+= 1
            }
        }
        var bits = 0.0
        let total = Double(n)
        for v in 0..<256 {
            let c = h[v] + h[256 + v] + h[512 + v] + h[768 + v]
            if c > 0 {
                let p = Double(c) / total
                bits -= p * log2(p)
            }
        }
        return bits < 8 * (1 - 1.0 / 64)
    }

    /// Splits `count` elements of `width` bytes into planes. First the sign bit of each
    /// element moves below the next 8 bits (the top byte then holds BF16's, F32's and F64's
    /// exponent bits only, as ZipNN does; the sign joins the noisiest mantissa byte, leaving
    /// low mantissa bytes alone); then byte k of element i goes to `plane[k * count + i]`.
    private func split(_ raw: UnsafeRawBufferPointer, width: Int, count n: Int) {
        // In bounds: n * width == raw.count ≤ plane.count (checked by the caller).
        let src = raw.baseAddress.unsafelyUnwrapped
        let dst = plane.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: UInt8.self)
        switch width {
        case 2:
            for i in 0..<n {
                let w = UInt16(
                    littleEndian: src.loadUnaligned(fromByteOffset: 2 &* i, as: UInt16.self))
                let v = w &<< 1 & 0xFF00 | w &>> 8 & 0x0080 | w & 0x007F
                dst[i] = UInt8(truncatingIfNeeded: v)
                dst[n &+ i] = UInt8(truncatingIfNeeded: v &>> 8)
            }
        case 4:
            for i in 0..<n {
                let w = UInt32(
                    littleEndian: src.loadUnaligned(fromByteOffset: 4 &* i, as: UInt32.self))
                let v = w &<< 1 & 0xFF00_0000 | w &>> 8 & 0x0080_0000 | w & 0x007F_FFFF
                dst[i] = UInt8(truncatingIfNeeded: v)
                dst[n &+ i] = UInt8(truncatingIfNeeded: v &>> 8)
                dst[2 &* n &+ i] = UInt8(truncatingIfNeeded: v &>> 16)
                dst[3 &* n &+ i] = UInt8(truncatingIfNeeded: v &>> 24)
            }
        default:
            precondition(width == 8)
            for i in 0..<n {
                let w = UInt64(
                    littleEndian: src.loadUnaligned(fromByteOffset: 8 &* i, as: UInt64.self))
                let v =
                    w &<< 1 & 0xFF00_0000_0000_0000 | w &>> 8 & 0x0080_0000_0000_0000 | w
                    & 0x007F_FFFF_FFFF_FFFF
                for k in 0..<8 { dst[k &* n &+ i] = UInt8(truncatingIfNeeded: v &>> (8 &* k)) }
            }
        }
    }

    /// The inverse of `split`: planes in the scratch buffer back into elements in `out`.
    private func join(into out: UnsafeMutableRawBufferPointer, width: Int, count n: Int) {
        // In bounds: n * width == out.count (raw sizes are multiples of the width, checked
        // when the index was read) and out.count ≤ maxChunkSize == plane.count.
        let dst = out.baseAddress.unsafelyUnwrapped
        let src = UnsafeRawPointer(plane.baseAddress.unsafelyUnwrapped).assumingMemoryBound(
            to: UInt8.self)
        switch width {
        case 2:
            for i in 0..<n {
                let w = UInt16(src[i]) | UInt16(src[n &+ i]) &<< 8
                let v = w &>> 1 & 0x7F80 | w &<< 8 & 0x8000 | w & 0x007F
                dst.storeBytes(of: v.littleEndian, toByteOffset: 2 &* i, as: UInt16.self)
            }
        case 4:
            for i in 0..<n {
                let w =
                    UInt32(src[i]) | UInt32(src[n &+ i]) &<< 8 | UInt32(src[2 &* n &+ i]) &<< 16
                    | UInt32(src[3 &* n &+ i]) &<< 24
                let v = w &>> 1 & 0x7F80_0000 | w &<< 8 & 0x8000_0000 | w & 0x007F_FFFF
                dst.storeBytes(of: v.littleEndian, toByteOffset: 4 &* i, as: UInt32.self)
            }
        default:
            precondition(width == 8)
            for i in 0..<n {
                var w: UInt64 = 0
                for k in 0..<8 { w |= UInt64(src[k &* n &+ i]) &<< (8 &* k) }
                let v =
                    w &>> 1 & 0x7F80_0000_0000_0000 | w &<< 8 & 0x8000_0000_0000_0000 | w
                    & 0x007F_FFFF_FFFF_FFFF
                dst.storeBytes(of: v.littleEndian, toByteOffset: 8 &* i, as: UInt64.self)
            }
        }
    }

    /// Decodes `payload` into `out` (exactly `entry.rawSize` bytes) and checks the CRC.
    /// Every size comes from the (validated) entry or the payload and is checked here.
    func decode(
        _ payload: UnsafeRawBufferPointer, entry: ChunkEntry,
        into out: UnsafeMutableRawBufferPointer,
        error: (String) -> FormatError
    ) throws(FormatError) {
        precondition(out.count == entry.rawSize)
        switch entry.codec {
        case .stored:
            guard payload.count == entry.rawSize else {
                throw error(
                    "stored payload of \(payload.count) bytes for \(entry.rawSize) raw bytes")
            }
            if entry.rawSize > 0 { out.copyMemory(from: payload) }
        case .zstd:
            try decompress(payload, into: out, error: error)
        case .planes:
            let w = entry.width
            let n = entry.rawSize / w
            let headerSize = 5 * w
            guard payload.count >= headerSize else {
                throw error("plane header of \(headerSize) bytes, payload has \(payload.count)")
            }
            var at = headerSize
            for k in 0..<w {
                let codec = payload[5 * k]
                let size = Int(
                    payload.loadUnaligned(fromByteOffset: 5 * k + 1, as: UInt32.self).littleEndian)
                guard size <= payload.count - at else {
                    throw error("plane \(k) of \(size) bytes overruns the payload")
                }
                let body = UnsafeRawBufferPointer(rebasing: payload[at..<(at + size)])
                at += size
                let dst = UnsafeMutableRawBufferPointer(rebasing: plane[(k * n)..<((k + 1) * n)])
                switch codec {
                case ChunkCodec.stored.rawValue:
                    guard size == n else {
                        throw error("stored plane \(k) of \(size) bytes, expected \(n)")
                    }
                    if n > 0 { dst.copyMemory(from: body) }
                case ChunkCodec.zstd.rawValue:
                    try decompress(body, into: dst, error: { error("plane \(k): \($0)") })
                default:
                    throw error("plane \(k): unknown codec \(codec)")
                }
            }
            guard at == payload.count else {
                throw error("planes end at \(at) of a \(payload.count)-byte payload")
            }
            join(into: out, width: w, count: n)
        }
        let crc = Self.crc32(UnsafeRawBufferPointer(out))
        guard crc == entry.crc else {
            throw error("crc32 mismatch (stored \(hex(entry.crc)), computed \(hex(crc)))")
        }
    }

    private func decompress(
        _ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer,
        error: (String) -> FormatError
    ) throws(FormatError) {
        let r = ZSTD_decompressDCtx(dctx, dst.baseAddress, dst.count, src.baseAddress, src.count)
        if ZSTD_isError(r) != 0 {
            throw error("zstd: \(String(cString: ZSTD_getErrorName(r)))")
        }
        guard r == dst.count else { throw error("zstd gave \(r) bytes, expected \(dst.count)") }
    }

    /// zlib's CRC-32 of `bytes`: folded by carry-less multiplication where the CPU has it
    /// (CKernels, about twice zlib's speed), the tail (and everything elsewhere) by zlib.
    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let p = bytes.baseAddress, bytes.count > 0 else { return 0 }
        let u8 = p.assumingMemoryBound(to: UInt8.self)
        var crc: UInt32 = 0
        var done = 0
        if bytes.count >= 64, ck_crc32_fold_available() != 0 {
            done = bytes.count & ~15
            crc = ~ck_crc32_fold(~0, u8, done)
        }
        if done < bytes.count {
            crc = UInt32(CZlib.crc32_z(UInt(crc), u8 + done, bytes.count - done))
        }
        return crc
    }
}

/// One coder per worker, made once per pack or read and reused across batches, so zstd's
/// contexts and the plane scratch are allocated (and faulted in) once per worker.
final class CoderPool: @unchecked Sendable {
    // Worker w of a concurrentPerform uses only coders[w]: no coder is shared at a time.
    let coders: [ChunkCoder]

    init(workers: Int, level: Int) {
        coders = (0..<max(1, workers)).map { _ in ChunkCoder(level: level) }
    }
}

func hex(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
}

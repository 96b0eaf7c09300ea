import Formats

/// One ggml block type: how many weights a block holds, its size, and how it decodes.
///
/// Each type is a caseless enum; `GGMLCodec` handles rows, threading and size checks, so a codec
/// only ever sees exactly one block (`weightsPerBlock` floats, `bytesPerBlock` bytes).
public protocol BlockCodec: Sendable {
    /// The ggml type this codec implements.
    static var type: GGMLType { get }
    /// Weights per block: 32 for the legacy types, 256 (QK_K) for K-quants.
    static var weightsPerBlock: Int { get }
    /// Bytes per block (ggml's `type_size`; tested against GGMLType and gguf-py).
    static var bytesPerBlock: Int { get }
    /// Decodes one block, equal bit for bit to gguf-py's `quants.dequantize` and ggml's
    /// `dequantize_row_*` (float32, same evaluation order).
    static func decode(_ block: UnsafeRawBufferPointer, into out: UnsafeMutableBufferPointer<Float>)
}

/// A block type ckpt can also quantize, with the same bytes as ggml's reference quantizer.
public protocol BlockEncoder: BlockCodec {
    /// Encodes one block of finite floats (`out` is zeroed by the caller).
    static func encode(_ block: UnsafeBufferPointer<Float>, into out: UnsafeMutableRawBufferPointer)
}

/// A block encoder with a vector path for blocks known to hold only finite weights, so the
/// whole-tensor loop checks each block once and calls it directly.
protocol FiniteBlockEncoder: BlockEncoder {
    /// Encodes `weightsPerBlock` finite floats at `x`, writing all `bytesPerBlock` bytes at `y`;
    /// the same bytes as `encodeReference`.
    static func encodeFinite(_ x: UnsafePointer<Float>, into y: UnsafeMutableRawPointer)
    /// Encodes 16 consecutive blocks at `x` into the `16 * bytesPerBlock` bytes at `y` and
    /// returns true, or returns false, writing nothing, when one of them holds NaN or ±Inf.
    static func encode16(_ x: UnsafePointer<Float>, into y: UnsafeMutableRawPointer) -> Bool
    /// The scalar port of ggml's reference quantizer, for any input (`y` zeroed).
    static func encodeReference(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableRawBufferPointer)
}

extension FiniteBlockEncoder {
    /// After an `encode16`: the blocks whose 1/d (lanes of `id`, blocks interleaved as
    /// `blockLane` places them) overflowed, a subnormal d, are encoded again by the scalar
    /// port, whose inf·x path decides their bytes (rare).
    @inline(__always)
    static func reencodeOverflowing(
        _ id: SIMD16<Float>, _ x: UnsafePointer<Float>, into y: UnsafeMutableRawPointer
    ) {
        let overflow = nonFiniteMask(id)
        guard anyNegative(overflow) else { return }
        for b in 0..<16 where overflow[blockLane(b)] != 0 {
            let out = UnsafeMutableRawBufferPointer(start: y + bytesPerBlock * b, count: bytesPerBlock)
            out.initializeMemory(as: UInt8.self, repeating: 0)
            encodeReference(
                UnsafeBufferPointer(start: x + weightsPerBlock * b, count: weightsPerBlock), into: out)
        }
    }
}

// MARK: - Shared numeric helpers (formats-gguf.md §2.2)

/// ggml's `nearest_int`: the low 22 bits of `x + 1.5·2²³` minus 2²² (round half to even for
/// |x| ≤ 4194303; the same garbage as C beyond, so results never diverge from ggml).
@inline(__always) func nearestInt(_ x: Float) -> Int {
    let v = x + 12582912.0
    return Int(Int32(bitPattern: v.bitPattern & 0x007f_ffff)) - 0x0040_0000
}

/// C's `(int)f` for a float already known to be in range; out-of-range or NaN values (undefined
/// behaviour in C, only reachable from non-finite input) saturate instead of trapping.
@inline(__always) func truncToInt(_ x: Float) -> Int {
    guard x.isFinite else { return 0 }
    if x >= 2147483648 { return Int(Int32.max) }
    if x <= -2147483648 { return Int(Int32.min) }
    return Int(x)
}

/// C's `roundf`: half away from zero.
@inline(__always) func roundHalfAway(_ x: Float) -> Int { truncToInt(x.rounded(.toNearestOrAwayFromZero)) }

extension UnsafeRawBufferPointer {
    /// The fp16 at byte `offset`, as Float.
    @inline(__always) func f16(_ offset: Int) -> Float {
        Half.toFloat(UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    @inline(__always) func u16(_ offset: Int) -> UInt16 {
        UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always) func u32(_ offset: Int) -> UInt32 {
        UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always) func i8(_ offset: Int) -> Int8 { Int8(bitPattern: self[offset]) }
}

extension UnsafeMutableRawBufferPointer {
    /// Stores `x` rounded to fp16 at byte `offset`; returns the stored value read back as Float
    /// (what the K-quants requantize with).
    @inline(__always) @discardableResult
    func setF16(_ offset: Int, _ x: Float) -> Float {
        let bits = Half.fromFloat(x)
        storeBytes(of: bits.littleEndian, toByteOffset: offset, as: UInt16.self)
        return Half.toFloat(bits)
    }

    @inline(__always) func setU16(_ offset: Int, _ v: UInt16) {
        storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt16.self)
    }

    @inline(__always) func setU32(_ offset: Int, _ v: UInt32) {
        storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt32.self)
    }
}

/// The index of the first element with the largest |x| and its signed value (ggml's amax/max
/// search with strict `>`); (0, 0) for an all-zero block.
@inline(__always) func signedAbsMax(_ x: UnsafeBufferPointer<Float>) -> (amax: Float, max: Float) {
    var amax: Float = 0, max: Float = 0
    for v in x where v.magnitude > amax {
        amax = v.magnitude
        max = v
    }
    return (amax, max)
}

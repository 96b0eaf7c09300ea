import Formats

/// Element conversion between dense floating dtypes (and identity copies of integer dtypes).
///
/// Rounding is round-to-nearest-even, like numpy `astype`, torch `.to()` and ml_dtypes, so a
/// cast done here gives the same bytes as the Python tools a user compares against.
public enum Scalars {
    /// Floating dtypes `convert` reads and writes.
    public static let floatTypes: Set<DType> = [.f64, .f32, .f16, .bf16, .f8e4m3, .f8e5m2]

    /// Converts `src` (elements of `from`, little-endian, any alignment) into `dst` (`to`).
    ///
    /// Floats convert among each other; an integer dtype is only copied unchanged (`from == to`).
    /// Both buffers must hold the same element count.
    public static func convert(_ src: UnsafeRawBufferPointer, from: DType, to: DType,
                               into dst: UnsafeMutableRawBufferPointer) throws(QuantizeError) {
        let count = try elementCount(src.count, from, "source")
        guard let outSize = to.byteSize else { throw QuantizeError(.unsupported("conversion to \(to.rawValue)")) }
        let (need, overflow) = count.multipliedReportingOverflow(by: outSize)
        guard !overflow, dst.count == need else {
            throw QuantizeError(.shape("destination holds \(dst.count) bytes, \(count) \(to.rawValue) need \(count * outSize)"))
        }
        if from == to {
            if count > 0, let s = src.baseAddress, let d = dst.baseAddress { d.copyMemory(from: s, byteCount: src.count) }
            return
        }
        guard floatTypes.contains(from), floatTypes.contains(to) else {
            throw QuantizeError(.unsupported("conversion from \(from.rawValue) to \(to.rawValue)"))
        }
        let buffers = UncheckedSendable((src, dst))
        GGMLCodec.forChunks(blocks: count, weightsPerBlock: 1) { lo, hi in
            let (src, dst) = buffers.value
            convertRange(src, from, to, dst, lo, hi)
        }
    }

    /// Converts elements lo..<hi (element-wise, so chunks may run on different threads).
    static func convertRange(_ src: UnsafeRawBufferPointer, _ from: DType, _ to: DType,
                             _ dst: UnsafeMutableRawBufferPointer, _ lo: Int, _ hi: Int) {
        if convertRangeSIMD(src, from, to, dst, lo, hi) { return }
        switch (from, to) {
        case (.f32, .bf16):
            for i in lo..<hi { store(Half.bf16FromFloat(loadF32(src, i)), dst, i) }
        case (.f32, .f16):
            for i in lo..<hi { store(Half.fromFloat(loadF32(src, i)), dst, i) }
        case (.bf16, .f32), (.f16, .f32):
            for i in lo..<hi { store(loadAsFloat(src, from, i).bitPattern, dst, i) }
        case (_, .f64):
            for i in lo..<hi { store(loadAsDouble(src, from, i).bitPattern, dst, i) }
        case (_, .f32):
            for i in lo..<hi { store(Float(loadAsDouble(src, from, i)).bitPattern, dst, i) }
        default:
            let format = minifloat(to)
            let outSize = to.byteSize ?? 1
            for i in lo..<hi {
                let bits = format.encode(loadAsDouble(src, from, i))
                if outSize == 2 { store(UInt16(truncatingIfNeeded: bits), dst, i) }
                else { dst[i] = UInt8(truncatingIfNeeded: bits) }
            }
        }
    }

    /// Widens any floating dtype `convert` knows to Float (F64 rounds to nearest even).
    public static func widen(_ src: UnsafeRawBufferPointer, from: DType,
                             into dst: UnsafeMutableBufferPointer<Float>) throws(QuantizeError) {
        try convert(src, from: from, to: .f32, into: UnsafeMutableRawBufferPointer(dst))
    }

    /// Narrows Float values to `to` (F32/F16/BF16/F8/F64), round-to-nearest-even.
    public static func narrow(_ src: UnsafeBufferPointer<Float>, to: DType,
                              into dst: UnsafeMutableRawBufferPointer) throws(QuantizeError) {
        try convert(UnsafeRawBufferPointer(src), from: .f32, to: to, into: dst)
    }

    // MARK: element access

    private static func elementCount(_ bytes: Int, _ t: DType, _ what: String) throws(QuantizeError) -> Int {
        guard let size = t.byteSize else { throw QuantizeError(.unsupported("\(what) dtype \(t.rawValue)")) }
        guard bytes % size == 0 else {
            throw QuantizeError(.shape("\(what) holds \(bytes) bytes, not a whole number of \(t.rawValue) elements"))
        }
        return bytes / size
    }

    static func minifloat(_ t: DType) -> Minifloat {
        switch t {
        case .f16: .f16
        case .bf16: .bf16
        case .f8e4m3: .e4m3fn
        default: .e5m2
        }
    }

    @inline(__always) static func loadF32(_ p: UnsafeRawBufferPointer, _ i: Int) -> Float {
        Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
    }

    @inline(__always) static func load16(_ p: UnsafeRawBufferPointer, _ i: Int) -> UInt16 {
        UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
    }

    /// Element `i` of a F32/F16/BF16 buffer as Float (exact).
    @inline(__always) static func loadAsFloat(_ p: UnsafeRawBufferPointer, _ t: DType, _ i: Int) -> Float {
        switch t {
        case .f16: Half.toFloat(load16(p, i))
        case .bf16: Half.bf16ToFloat(load16(p, i))
        default: loadF32(p, i)
        }
    }

    /// Element `i` of any float buffer as Double (exact).
    static func loadAsDouble(_ p: UnsafeRawBufferPointer, _ t: DType, _ i: Int) -> Double {
        switch t {
        case .f64: Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
        case .f32, .f16, .bf16: Double(loadAsFloat(p, t, i))
        case .f8e4m3: Minifloat.e4m3fn.decode(UInt32(p[i]))
        default: Minifloat.e5m2.decode(UInt32(p[i]))
        }
    }

    @inline(__always) static func store<T: FixedWidthInteger>(_ v: T, _ p: UnsafeMutableRawBufferPointer, _ i: Int) {
        p.storeBytes(of: v.littleEndian, toByteOffset: i * MemoryLayout<T>.size, as: T.self)
    }
}

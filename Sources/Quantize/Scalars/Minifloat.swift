/// An IEEE-style binary format narrower than Double, described by its field widths, so one
/// correctly rounded (round-to-nearest-even) encoder serves F16, BF16 and the FP8 types.
///
/// Every value of these formats is exact in Double, so converting through Double and rounding
/// once here gives the same bits as numpy / ml_dtypes / torch (no double rounding, even from F64).
struct Minifloat: Sendable {
    let exponentBits: Int
    let mantissaBits: Int
    /// True for IEEE-like formats with ±inf (F16, BF16, F8_E5M2); F8_E4M3 ("fn") has none and
    /// maps overflow and inf to NaN, as ml_dtypes' float8_e4m3fn and torch do.
    let hasInfinity: Bool
    /// The largest finite value (448 for E4M3FN, 57344 for E5M2, 65504 for F16).
    let maxFinite: Double
    /// Bit pattern of the positive quiet NaN.
    let nanBits: UInt32

    var bias: Int { (1 << (exponentBits - 1)) - 1 }
    var signBit: UInt32 { 1 << UInt32(exponentBits + mantissaBits) }
    var infinityBits: UInt32 { UInt32((1 << exponentBits) - 1) << UInt32(mantissaBits) }

    static let f16 = Minifloat(exponentBits: 5, mantissaBits: 10, hasInfinity: true,
                               maxFinite: 65504, nanBits: 0x7E00)
    static let bf16 = Minifloat(exponentBits: 8, mantissaBits: 7, hasInfinity: true,
                                maxFinite: Double(Float.greatestFiniteMagnitude), nanBits: 0x7FC0)
    static let e4m3fn = Minifloat(exponentBits: 4, mantissaBits: 3, hasInfinity: false,
                                  maxFinite: 448, nanBits: 0x7F)
    static let e5m2 = Minifloat(exponentBits: 5, mantissaBits: 2, hasInfinity: true,
                                maxFinite: 57344, nanBits: 0x7E)

    /// The bits of `x` rounded to nearest, ties to even.
    func encode(_ x: Double) -> UInt32 {
        let sign: UInt32 = x.sign == .minus ? signBit : 0
        if x.isNaN { return sign | nanBits }
        let a = x.magnitude
        if a.isInfinite { return hasInfinity ? sign | infinityBits : sign | nanBits }
        let minExponent = 1 - bias
        // The spacing of representable values around `a` (subnormal spacing below the normals).
        let e = a < Double(sign: .plus, exponent: minExponent, significand: 1)
            ? minExponent : Int(a.exponent)
        let quantum = Double(sign: .plus, exponent: e - mantissaBits, significand: 1)
        let v = (a / quantum).rounded(.toNearestOrEven) * quantum
        if v > maxFinite { return hasInfinity ? sign | infinityBits : sign | nanBits }
        if v == 0 { return sign }
        if v < Double(sign: .plus, exponent: minExponent, significand: 1) {
            return sign | UInt32(v / Double(sign: .plus, exponent: minExponent - mantissaBits, significand: 1))
        }
        let ve = Int(v.exponent)
        let m = (v / Double(sign: .plus, exponent: ve - mantissaBits, significand: 1)) - Double(1 << mantissaBits)
        return sign | UInt32(ve + bias) << UInt32(mantissaBits) | UInt32(m)
    }

    /// The value of `bits` (exact).
    func decode(_ bits: UInt32) -> Double {
        let negative = bits & signBit != 0
        let exponentField = Int(bits >> UInt32(mantissaBits)) & ((1 << exponentBits) - 1)
        let mantissa = Int(bits) & ((1 << mantissaBits) - 1)
        let v: Double
        if !hasInfinity && bits & ~signBit == nanBits {
            return .nan
        } else if hasInfinity && exponentField == (1 << exponentBits) - 1 {
            v = mantissa == 0 ? .infinity : .nan
        } else if exponentField == 0 {
            v = Double(mantissa) * Double(sign: .plus, exponent: 1 - bias - mantissaBits, significand: 1)
        } else {
            v = Double((1 << mantissaBits) | mantissa)
                * Double(sign: .plus, exponent: exponentField - bias - mantissaBits, significand: 1)
        }
        return negative ? -v : v
    }
}

/// Fast scalar conversions used by the codecs and by `Scalars`.
enum Half {
    /// fp16 bits → Float (exact).
    @inline(__always) static func toFloat(_ bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }

    /// Float → fp16 bits, round-to-nearest-even, overflow → ±inf (ggml's GGML_FP32_TO_FP16,
    /// numpy's astype(float16)).
    @inline(__always) static func fromFloat(_ x: Float) -> UInt16 { Float16(x).bitPattern }

    /// bf16 bits → Float (exact).
    @inline(__always) static func bf16ToFloat(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// Float → bf16 bits, ggml's `ggml_compute_fp32_to_bf16` (RNE; NaN kept NaN, quiet bit set).
    @inline(__always) static func bf16FromFloat(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        if u & 0x7fff_ffff > 0x7f80_0000 { return UInt16(truncatingIfNeeded: (u >> 16) | 0x40) }
        return UInt16(truncatingIfNeeded: (u &+ (0x7fff &+ ((u >> 16) & 1))) >> 16)
    }
}

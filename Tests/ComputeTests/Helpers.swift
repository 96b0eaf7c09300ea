import Compute
import Formats
import Testing

/// Deterministic pseudo-random floats (SplitMix64) so failures reproduce.
struct Rand {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    mutating func float(_ lo: Float = -1, _ hi: Float = 1) -> Float {
        lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
    }
    mutating func floats(_ n: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
        (0..<n).map { _ in float(lo, hi) }
    }
}

func randn(_ shape: [Int], seed: UInt64, lo: Float = -1, hi: Float = 1, dtype: DType = .f32) throws
    -> Tensor
{
    var r = Rand(seed)
    return try Tensor(r.floats(shape.reduce(1, *), lo, hi), shape: shape, dtype: dtype)
}

/// Largest |a - b| / (atol + rtol·|b|) over the elements; ≤ 1 means within tolerance.
func closeness(_ a: [Float], _ b: [Float], rtol: Float, atol: Float) -> Float {
    precondition(a.count == b.count, "\(a.count) vs \(b.count)")
    var worst: Float = 0
    for i in a.indices {
        if a[i].isNaN && b[i].isNaN { continue }
        if a[i] == b[i] { continue }
        let e = Swift.abs(a[i] - b[i]) / (atol + rtol * Swift.abs(b[i]))
        worst = Swift.max(worst, e.isNaN ? .infinity : e)
    }
    return worst
}

/// Evaluates `t` on both backends and expects the CPU result within tolerance of the oracle.
@discardableResult
func expectMatchesReference(
    _ t: Tensor, rtol: Float = 1e-5, atol: Float = 1e-6,
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> [Float] {
    let cpu = try eval([t]).arrays[0]
    let ref = try eval([t], options: EvalOptions(backend: .reference)).arrays[0]
    #expect(cpu.shape == t.shape, sourceLocation: sourceLocation)
    #expect(ref.shape == t.shape, sourceLocation: sourceLocation)
    #expect(cpu.floats.count == t.count, sourceLocation: sourceLocation)
    let c = closeness(cpu.floats, ref.floats, rtol: rtol, atol: atol)
    #expect(c <= 1, "CPU vs reference off by \(c)× tolerance", sourceLocation: sourceLocation)
    return cpu.floats
}

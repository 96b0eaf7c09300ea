import Foundation

/// Recovers Llama 3's `rope_scaling` from the `rope_freqs.weight` tensor llama.cpp's converter
/// writes in its place (formats-gguf.md §4.4), so a GGUF → Hugging Face conversion gives back a
/// config.json transformers and mlx-lm scale RoPE with.
///
/// The tensor holds one divisor per rotated pair: 1 for short wavelengths, `factor` for long
/// ones, and between them `1 / ((1 - s)/factor + s)` with
/// `s = (old/λ - low)/(high - low)`. `factor` is the largest divisor; each in-between divisor
/// gives a point on the line `s(1/λ)`, whose slope and intercept fix `old/(high - low)` and
/// `-low/(high - low)`. One more fact is needed: `low_freq_factor` is taken as 1 (every
/// Llama 3.x release), and `high_freq_factor` as 4 when fewer than two points are in between.
/// Whatever is assumed, the result is accepted only if it reproduces every divisor.
public enum Llama3RopeRecovery {
    /// `rope_scaling` llama3 parameters.
    public struct Parameters: Sendable, Hashable {
        public var factor: Double
        public var low: Double
        public var high: Double
        public var originalContext: Int
    }

    /// Relative tolerance when comparing recomputed divisors with the stored float32 ones.
    static let tolerance: Float = 1e-5

    /// The parameters that reproduce `divisors`, or nil when none of this form do.
    public static func recover(divisors: [Float], theta: Double, dimension: Int) -> Parameters? {
        guard dimension >= 2, divisors.count == dimension / 2, theta > 1,
            divisors.allSatisfy({ $0.isFinite && $0 >= 1 }), let factor = divisors.max(), factor > 1
        else { return nil }
        let wavelengths = self.wavelengths(theta: theta, dimension: dimension)
        func isEnd(_ d: Float) -> Bool {
            abs(d - 1) <= tolerance || abs(d - factor) <= tolerance * factor
        }
        let between = divisors.indices.filter { !isEnd(divisors[$0]) }
        func s(_ i: Int) -> Double {
            (1 / Double(divisors[i]) - 1 / Double(factor)) / (1 - 1 / Double(factor))
        }
        let low = 1.0
        var high = 4.0
        var old = 8192.0
        if between.count >= 2, let a = between.first, let b = between.last {
            let (x1, x2) = (1 / Double(wavelengths[a]), 1 / Double(wavelengths[b]))
            let slope = (s(b) - s(a)) / (x2 - x1)
            let intercept = s(a) - slope * x1
            guard intercept < 0 else { return nil }
            high = low - 1 / intercept
            old = slope * (high - low)
        } else if let a = between.first {
            old = (s(a) * (high - low) + low) * Double(wavelengths[a])
        }
        high = (high * 1000).rounded() / 1000
        old = old.rounded()
        guard old.isFinite, old >= 1, old <= Double(Int32.max), high > low else { return nil }
        let p = Parameters(
            factor: Double("\(factor)") ?? Double(factor), low: low, high: high,
            originalContext: Int(old))
        let again = self.divisors(p, theta: theta, dimension: dimension)
        for (x, y) in zip(again, divisors) where abs(x - y) > tolerance * y { return nil }
        return p
    }

    /// 2π / inverse frequency of each pair, in float32 as the converter computes them.
    static func wavelengths(theta: Double, dimension: Int) -> [Float] {
        (0..<(dimension / 2)).map { i in
            let inv = 1 / Foundation.pow(Float(theta), Float(2 * i) / Float(dimension))
            return 2 * Float.pi / inv
        }
    }

    /// The divisors convert_hf_to_gguf.py's `LlamaModel.generate_extra_tensors` writes.
    public static func divisors(_ p: Parameters, theta: Double, dimension: Int) -> [Float] {
        let (factor, low, high, old) = (
            Float(p.factor), Float(p.low), Float(p.high), Float(p.originalContext)
        )
        let lowWavelength = old / low, highWavelength = old / high
        return wavelengths(theta: theta, dimension: dimension).map { wl in
            if wl < highWavelength { return 1 }
            if wl > lowWavelength { return factor }
            let smooth = (old / wl - low) / (high - low)
            return 1 / ((1 - smooth) / factor + smooth)
        }
    }
}

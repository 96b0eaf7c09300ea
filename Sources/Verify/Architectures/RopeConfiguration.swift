import Foundation
import Formats

/// Rotary position embedding settings: the base, and the frequency scaling transformers
/// applies (`rope_parameters` in transformers 5, `rope_scaling` in 4).
///
/// The forward pass only needs the inverse frequency of each rotated pair; they are computed
/// here in float32 in the order `modeling_rope_utils.py` uses, so positions rotate by the same
/// angles as in transformers.
public struct RopeConfiguration: Sendable, Hashable {
    /// `rope_parameters` / `rope_scaling` as written in config.json.
    public struct Parameters: Sendable, Hashable, Codable {
        public var ropeTheta: Double?
        /// `rope_type` (or the older `type`): `default`, `linear`, `llama3`.
        public var kind: String?
        public var factor: Double?
        public var lowFreqFactor: Double?
        public var highFreqFactor: Double?
        public var originalMaxPositionEmbeddings: Int?

        enum CodingKeys: String, CodingKey {
            case ropeTheta = "rope_theta", ropeType = "rope_type", type, factor
            case lowFreqFactor = "low_freq_factor", highFreqFactor = "high_freq_factor"
            case originalMaxPositionEmbeddings = "original_max_position_embeddings"
        }

        public init(
            ropeTheta: Double? = nil, kind: String? = nil, factor: Double? = nil,
            lowFreqFactor: Double? = nil, highFreqFactor: Double? = nil,
            originalMaxPositionEmbeddings: Int? = nil
        ) {
            self.ropeTheta = ropeTheta
            self.kind = kind
            self.factor = factor
            self.lowFreqFactor = lowFreqFactor
            self.highFreqFactor = highFreqFactor
            self.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
        }

        public init(from decoder: any Swift.Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            ropeTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta)
            kind =
                try c.decodeIfPresent(String.self, forKey: .ropeType)
                ?? c.decodeIfPresent(String.self, forKey: .type)
            factor = try c.decodeIfPresent(Double.self, forKey: .factor)
            lowFreqFactor = try c.decodeIfPresent(Double.self, forKey: .lowFreqFactor)
            highFreqFactor = try c.decodeIfPresent(Double.self, forKey: .highFreqFactor)
            originalMaxPositionEmbeddings = try c.decodeIfPresent(
                Int.self, forKey: .originalMaxPositionEmbeddings)
        }

        public func encode(to encoder: any Swift.Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeIfPresent(ropeTheta, forKey: .ropeTheta)
            try c.encode(kind ?? "default", forKey: .ropeType)
            try c.encodeIfPresent(factor, forKey: .factor)
            try c.encodeIfPresent(lowFreqFactor, forKey: .lowFreqFactor)
            try c.encodeIfPresent(highFreqFactor, forKey: .highFreqFactor)
            try c.encodeIfPresent(
                originalMaxPositionEmbeddings, forKey: .originalMaxPositionEmbeddings)
        }
    }

    /// How frequencies are rescaled for longer contexts.
    public enum Scaling: Sendable, Hashable {
        case none
        /// Positions divided by `factor` (inverse frequencies divided by it).
        case linear(factor: Float)
        /// Llama 3.1's band-wise rescaling (`_compute_llama3_parameters`).
        case llama3(factor: Float, low: Float, high: Float, originalContext: Float)
    }

    /// The base θ (`rope_theta`).
    public var theta: Double
    public var scaling: Scaling
    /// Per-pair divisors of the inverse frequencies, as a GGUF's `rope_freqs.weight` stores
    /// Llama 3 scaling; nil otherwise.
    public var frequencyDivisors: [Float]?

    /// Plain RoPE with base `theta`.
    public init(theta: Double, scaling: Scaling = .none, frequencyDivisors: [Float]? = nil) {
        self.theta = theta
        self.scaling = scaling
        self.frequencyDivisors = frequencyDivisors
    }

    /// From config.json's parameters.
    /// - Throws: `FormatError` (field `rope_scaling`) for a type the engine does not run.
    init(theta: Double, parameters p: Parameters) throws(FormatError) {
        self.theta = theta
        frequencyDivisors = nil
        switch p.kind ?? "default" {
        case "default":
            scaling = .none
        case "linear":
            scaling = .linear(factor: Float(p.factor ?? 1))
        case "llama3":
            guard let f = p.factor, let old = p.originalMaxPositionEmbeddings else {
                throw FormatError(
                    .invalid("llama3 scaling needs factor and original_max_position_embeddings"),
                    field: "rope_scaling")
            }
            scaling = .llama3(
                factor: Float(f), low: Float(p.lowFreqFactor ?? 1),
                high: Float(p.highFreqFactor ?? 4),
                originalContext: Float(old))
        case let other:
            throw FormatError(.unsupported("rope type '\(other)'"), field: "rope_scaling")
        }
    }

    /// The parameters as transformers 5 writes them.
    public var parameters: Parameters {
        switch scaling {
        case .none: Parameters(ropeTheta: theta, kind: "default")
        case .linear(let f): Parameters(ropeTheta: theta, kind: "linear", factor: Double(f))
        case .llama3(let f, let lo, let hi, let old):
            Parameters(
                ropeTheta: theta, kind: "llama3", factor: Double(f), lowFreqFactor: Double(lo),
                highFreqFactor: Double(hi), originalMaxPositionEmbeddings: Int(old))
        }
    }

    func check(file: String) throws(FormatError) {
        guard theta.isFinite, theta > 1 else {
            throw FormatError(
                .invalid("rope_theta \(theta) must be > 1"), file: file, field: "rope_theta")
        }
        switch scaling {
        case .none: break
        case .linear(let f):
            guard f.isFinite, f > 0 else {
                throw FormatError(.invalid("factor \(f)"), file: file, field: "rope_scaling.factor")
            }
        case .llama3(let f, let lo, let hi, let old):
            guard f.isFinite, f > 0, lo.isFinite, hi.isFinite, hi > lo, old.isFinite, old > 0 else {
                throw FormatError(
                    .invalid("llama3 factor \(f), low \(lo), high \(hi), original \(old)"),
                    file: file, field: "rope_scaling")
            }
        }
    }

    /// The inverse frequency of each of the `dimension / 2` rotated pairs, in float32 as
    /// transformers computes them: `1 / θ^(2i/d)`, then the scaling.
    public func inverseFrequencies(dimension d: Int) -> [Float] {
        let base = Float(theta)
        var inv = (0..<(d / 2)).map { i in 1 / Foundation.pow(base, Float(2 * i) / Float(d)) }
        switch scaling {
        case .none: break
        case .linear(let f): inv = inv.map { $0 / f }
        case .llama3(let f, let lo, let hi, let old):
            let lowWavelength = old / lo, highWavelength = old / hi
            inv = inv.map { freq in
                let wavelength = 2 * Float.pi / freq
                if wavelength < highWavelength { return freq }
                if wavelength > lowWavelength { return freq / f }
                let smooth = (old / wavelength - lo) / (hi - lo)
                return (1 - smooth) * freq / f + smooth * freq
            }
        }
        if let divisors = frequencyDivisors, divisors.count == inv.count {
            inv = zip(inv, divisors).map { $0 / $1 }
        }
        return inv
    }

    /// cos and sin tables [T, d] for positions `offset ..< offset + T`, each pair's angle
    /// repeated in both halves (transformers' `cat((freqs, freqs), -1)`).
    public func tables(positions t: Int, dimension d: Int, offset: Int = 0) -> (
        cos: [Float], sin: [Float]
    ) {
        let inv = inverseFrequencies(dimension: d)
        let half = d / 2
        var c = [Float](repeating: 0, count: t * d), s = c
        for p in 0..<t {
            for i in 0..<half {
                let angle = Float(offset + p) * inv[i]
                let (cv, sv) = (
                    Float(Foundation.cos(Double(angle))), Float(Foundation.sin(Double(angle)))
                )
                c[p * d + i] = cv
                c[p * d + half + i] = cv
                s[p * d + i] = sv
                s[p * d + half + i] = sv
            }
        }
        return (c, s)
    }
}

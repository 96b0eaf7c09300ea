import Foundation
import Formats

/// How far a candidate's outputs are from a reference's over the same tokens (cli.md
/// `ckpt verify`). KL, top-1 and perplexity exist only for logits (decoders).
public struct VerificationStatistics: Sendable, Hashable {
    /// Positions compared (all windows together).
    public var tokens: Int
    /// Whether the outputs are logits (else an encoder's last hidden state).
    public var outputsLogits: Bool
    /// Largest |ref − cand| over every output element.
    public var maxAbsError: Double
    /// Mean |ref − cand| over every output element.
    public var meanAbsError: Double
    /// Smallest cosine similarity of the two output rows over positions.
    public var cosineMin: Double
    /// KL(ref ‖ cand) of the softmaxed logits per position: mean and max over positions.
    public var klMean: Double?
    public var klMax: Double?
    /// Fraction of positions whose argmax token is the same in both.
    public var top1Agreement: Double?
    /// exp of the mean negative log-likelihood of tokens 1..T-1 under each model; nil for a
    /// single token (nothing is predicted).
    public var pplRef: Double?
    public var pplCand: Double?
    /// Whether any output value was NaN or infinite (such a result never passes).
    public var nonFinite = false

    /// Statistics as computed; the logits-only ones start nil.
    public init(
        tokens: Int, outputsLogits: Bool, maxAbsError: Double, meanAbsError: Double,
        cosineMin: Double
    ) {
        self.tokens = tokens
        self.outputsLogits = outputsLogits
        self.maxAbsError = maxAbsError
        self.meanAbsError = meanAbsError
        self.cosineMin = cosineMin
    }
}

/// The limits a verification must meet; nil limits are not checked.
public struct VerificationThresholds: Sendable, Hashable {
    /// Largest allowed KL mean (`--max-kl`).
    public var maxKL: Double?
    /// Smallest allowed top-1 agreement (`--min-top1`).
    public var minTop1: Double?
    /// Smallest allowed `cosine_min` (`--min-cosine`; the check for encoders).
    public var minCosine: Double?

    /// Limits as given; all nil checks nothing but finiteness.
    public init(maxKL: Double? = nil, minTop1: Double? = nil, minCosine: Double? = nil) {
        self.maxKL = maxKL
        self.minTop1 = minTop1
        self.minCosine = minCosine
    }

    /// Whether no limit is set.
    public var isEmpty: Bool { maxKL == nil && minTop1 == nil && minCosine == nil }

    /// The limits `statistics` misses, as sentences (empty when it passes). NaN fails every
    /// comparison, so a model that outputs NaN never passes.
    public func failures(_ s: VerificationStatistics) -> [String] {
        var out: [String] = []
        if s.nonFinite { out.append("the outputs contain NaN or infinite values") }
        if let maxKL {
            let kl = s.klMean ?? .nan
            if !(kl <= maxKL) { out.append("kl_mean \(Self.format(kl)) > \(maxKL)") }
        }
        if let minTop1 {
            let t = s.top1Agreement ?? .nan
            if !(t >= minTop1) { out.append("top1_agreement \(Self.format(t)) < \(minTop1)") }
        }
        if let minCosine, !(s.cosineMin >= minCosine) {
            out.append("cosine_min \(Self.format(s.cosineMin)) < \(minCosine)")
        }
        return out
    }

    /// The limits `ckpt convert --verify` holds an output to, by the fewest bits any tensor
    /// was quantized to, on the probe text.
    ///
    /// They are meant to catch a broken conversion (a wrong layout, a lost Q/K permutation, a
    /// bad quantizer: KL of several nats, top-1 near chance), never a correct but lossy one.
    /// Measured on SmolLM2-135M, the smallest and least robust model ckpt tests, quantized by
    /// mlx-lm itself (g64) from the F32 weights of its Q4_1 GGUF, on 53 tokens of English
    /// text: 8-bit KL 0.002, top-1 0.98; 4-bit KL 0.59, top-1 0.51 (a 135M model with tied
    /// embeddings, already 4-bit once, loses a lot at 4 bits). KL limits are about twice
    /// such numbers and top-1 limits about 0.1 below them; bigger models sit far inside.
    /// The 3-, 5-, 6- and 2-bit rows are interpolated, not measured. Tighter limits:
    /// `ckpt convert --verify-max-kl`, `--verify-min-top1`.
    public static func conversionDefaults(bits: Int) -> VerificationThresholds {
        switch bits {
        case 8...: VerificationThresholds(maxKL: 0.02, minTop1: 0.9)
        case 6..<8: VerificationThresholds(maxKL: 0.1, minTop1: 0.8)
        case 5: VerificationThresholds(maxKL: 0.3, minTop1: 0.7)
        case 4: VerificationThresholds(maxKL: 1.2, minTop1: 0.4)
        case 3: VerificationThresholds(maxKL: 2.5, minTop1: 0.25)
        default: VerificationThresholds(maxKL: 4, minTop1: 0.15)
        }
    }

    /// Six significant digits.
    static func format(_ v: Double) -> String {
        v.isFinite ? String(format: "%.6g", v) : "\(v)"
    }
}

/// One `ckpt verify` run: the statistics, the thresholds and the verdict.
public struct VerificationResult: Sendable, Hashable {
    public var statistics: VerificationStatistics
    public var thresholds: VerificationThresholds
    /// The limits missed (empty when passed).
    public var failures: [String]
    /// Where the token ids came from ("--tokens", "text", "probe text", "synthetic ids").
    public var tokenSource: String
    /// Windows the tokens were run in, and the window size.
    public var windows: Int
    public var windowSize: Int

    /// Whether every given threshold holds and the outputs are finite.
    public var passed: Bool { failures.isEmpty }

    /// cli.md's `--json` object: its keys first, in its order, then the details.
    public var json: MetadataValue {
        let s = statistics
        func num(_ d: Double?) -> MetadataValue { d.map(MetadataValue.float64) ?? .null }
        var o = Metadata(minimumCapacity: 16)
        o["tokens"] = .int64(Int64(s.tokens))
        o["max_abs_error"] = .float64(s.maxAbsError)
        o["mean_abs_error"] = .float64(s.meanAbsError)
        o["cosine_min"] = .float64(s.cosineMin)
        o["kl_mean"] = num(s.klMean)
        o["kl_max"] = num(s.klMax)
        o["top1_agreement"] = num(s.top1Agreement)
        o["ppl_ref"] = num(s.pplRef)
        o["ppl_cand"] = num(s.pplCand)
        o["passed"] = .bool(passed)
        o["output"] = .string(s.outputsLogits ? "logits" : "hidden_state")
        o["token_source"] = .string(tokenSource)
        o["windows"] = .int64(Int64(windows))
        o["window_size"] = .int64(Int64(windowSize))
        o["thresholds"] = .object([
            "max_kl": num(thresholds.maxKL), "min_top1": num(thresholds.minTop1),
            "min_cosine": num(thresholds.minCosine),
        ])
        o["failures"] = .array(failures.map(MetadataValue.string))
        return .object(o)
    }

    /// A readable two-column table, one statistic a line, then the verdict.
    public var table: String {
        let s = statistics
        var rows: [(String, String)] = [
            ("tokens", "\(s.tokens) (\(tokenSource), \(windows) window(s) of ≤ \(windowSize))")
        ]
        if s.outputsLogits {
            rows += [
                ("kl_mean", f(s.klMean)), ("kl_max", f(s.klMax)),
                ("top1_agreement", f(s.top1Agreement)), ("ppl_ref", f(s.pplRef)),
                ("ppl_cand", f(s.pplCand)),
            ]
        }
        rows += [
            ("max_abs_error", f(s.maxAbsError)), ("mean_abs_error", f(s.meanAbsError)),
            ("cosine_min", f(s.cosineMin)),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        var lines = rows.map {
            $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1
        }
        lines.append(passed ? "passed" : "FAILED: " + failures.joined(separator: "; "))
        return lines.joined(separator: "\n")
    }

    private func f(_ v: Double?) -> String { v.map(VerificationThresholds.format) ?? "-" }
}

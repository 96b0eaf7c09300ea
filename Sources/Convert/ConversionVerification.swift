import Formats
import Quantize
import Verify

/// `ckpt convert --verify`: after a quantized output is written, run it against its source on
/// the probe text and hold it to thresholds chosen by the bits it was quantized to.
///
/// Users get the conversion and the evidence that it still behaves like the source in one
/// step; a miss fails the command while the output stays on disk for inspection.
public enum ConversionVerification {
    /// Whether to verify: `nil` (the default) verifies quantized outputs of an architecture
    /// ckpt runs and skips everything else; `true` requires it; `false` skips it.
    public typealias Mode = Bool?

    /// The output was written but ckpt's engine cannot build a model from it (e.g. a
    /// directory without `config.json`): by default the verification is skipped with this
    /// reason; with `--verify` it is the command's error.
    public struct UnrunnableOutput: CkptError {
        /// The output's path.
        public var path: String
        /// Why the model could not be built.
        public var reason: String

        public var description: String {
            "the output cannot be run on ckpt's engine: \(reason)"
        }
    }

    /// What `decide` found.
    public enum Decision: Sendable, Hashable {
        /// Verify with these thresholds.
        case verify(VerificationThresholds)
        /// Nothing to verify, and why.
        case skip(String)
    }

    /// Default limits by the fewest bits any tensor was quantized to (see
    /// `VerificationThresholds.conversionDefaults(bits:)` for how they were chosen).
    public static func defaultThresholds(bits: Int) -> VerificationThresholds {
        VerificationThresholds.conversionDefaults(bits: bits)
    }

    /// Limits for an output whose tensors were only cast (e.g. F16): the rounding of a
    /// 16-bit float moves KL by about 1e-5.
    public static let unquantizedThresholds = VerificationThresholds(maxKL: 0.01, minTop1: 0.9)

    /// The fewest bits per weight any planned tensor gets, or nil when nothing is quantized.
    public static func quantizedBits(_ plan: ConversionPlan) -> Int? {
        plan.tensors.compactMap { t -> Int? in
            switch t.action {
            case .quantizeAffine(let bits, _, _): bits
            case .quantizeGGML(let type): bits(of: type)
            case .transcodeToAffine(let type, _): type == .Q8_0 ? 8 : 4
            case .copy, .cast, .dequantize, .dequantizeAffine, .permute: nil
            }
        }.min()
    }

    /// The nominal bits of a block type: the digit in its ggml name (`Q4_K` → 4, `IQ2_XS` →
    /// 2); nil for dense types.
    static func bits(of type: GGMLType) -> Int? {
        guard type.denseType == nil else { return nil }
        return type.name.first(where: \.isNumber).flatMap { Int(String($0)) }
    }

    /// Whether (and how strictly) the output of `plan` from `source` is verified; limits set
    /// in `overrides` replace the defaults for the bits.
    /// - Throws: `ConvertError` when `mode` is `true` and the output cannot be verified.
    public static func decide(
        _ plan: ConversionPlan, source: any TensorSource, mode: Mode,
        overrides: VerificationThresholds = VerificationThresholds()
    ) throws(ConvertError) -> Decision {
        if mode == false { return .skip("--no-verify") }
        let reason: String?
        let bits = quantizedBits(plan)
        if ![.gguf, .mlx, .hf].contains(plan.format) {
            reason = "a \(plan.format.rawValue) output has no architecture to run"
        } else if plan.format == .gguf,
            !ModelRegistry.llamaGGUFArchitectures.contains(
                plan.metadata["general.architecture"]?.stringValue ?? "")
        {
            reason = "the GGUF output has no general.architecture ckpt runs (a plain tensor file)"
        } else if let why = unsupportedArchitecture(source) {
            reason = why
        } else if bits == nil && mode == nil {
            reason = "nothing was quantized"
        } else {
            reason = nil
        }
        if let reason {
            if mode == true { throw ConvertError("--verify: \(reason)", file: plan.request.source) }
            return .skip(reason)
        }
        var limits = bits.map(defaultThresholds(bits:)) ?? unquantizedThresholds
        limits.maxKL = overrides.maxKL ?? limits.maxKL
        limits.minTop1 = overrides.minTop1 ?? limits.minTop1
        limits.minCosine = overrides.minCosine ?? limits.minCosine
        return .verify(limits)
    }

    /// The checks `--verify` needs before converting (the output's format and the source's
    /// architecture), so that a request that cannot be verified writes nothing.
    /// - Throws: `ConvertError` naming what prevents verification.
    public static func precheck(_ request: ConversionRequest, source: any TensorSource)
        throws(ConvertError)
    {
        let format = try request.resolvedFormat()
        guard [.gguf, .mlx, .hf].contains(format) else {
            throw ConvertError(
                "--verify: a \(format.rawValue) output has no architecture to run",
                file: request.destination)
        }
        if let why = unsupportedArchitecture(source) {
            throw ConvertError("--verify: \(why)", file: request.source)
        }
    }

    /// Why ckpt's engine cannot run `source`, or nil when it can.
    static func unsupportedArchitecture(_ source: any TensorSource) -> String? {
        switch source.format {
        case .gguf:
            let arch = source.metadata["general.architecture"]?.stringValue ?? "(none)"
            return ModelRegistry.llamaGGUFArchitectures.contains(arch)
                ? nil : "ckpt does not run architecture '\(arch)'"
        case .hf, .mlx:
            let type = source.metadata["model_type"]?.stringValue ?? "(none)"
            let known = ModelRegistry.llamaModelTypes.union(ModelRegistry.encoderModelTypes)
            return known.contains(type) ? nil : "ckpt does not run model_type '\(type)'"
        default:
            return "a \(source.format.rawValue) source has no architecture to run"
        }
    }

    /// Runs source against output on the probe text with `thresholds` (encoders: the cosine
    /// of the hidden states, at least 0.99, instead of KL and top-1).
    public static func run(
        _ plan: ConversionPlan, thresholds: VerificationThresholds
    ) throws -> VerificationResult {
        let reference = try ModelRegistry.load(path: plan.request.source)
        let candidate: any LanguageModel
        do {
            candidate = try ModelRegistry.load(path: plan.request.destination)
        } catch {
            throw UnrunnableOutput(path: plan.request.destination, reason: "\(error)")
        }
        var limits = thresholds
        if !reference.outputsLogits {
            limits = VerificationThresholds(minCosine: thresholds.minCosine ?? 0.99)
        }
        let (tokens, from) = try Verification.resolve(
            .probe, reference: plan.request.source, candidate: plan.request.destination,
            vocabularySize: reference.vocabularySize)
        var result = try Verification.run(
            reference: reference, candidate: candidate, tokens: tokens,
            options: .init(thresholds: limits),
            names: (plan.request.source, plan.request.destination))
        result.tokenSource = from
        return result
    }
}

import Formats
import Quantize

/// The parts of planning that concern MLX: mlx-lm's conventions for `--to mlx` from a model
/// directory, affine triples read out of an MLX source, and convolution layouts.
extension Planner {
    /// The tensors to plan and the request as planned, after the MLX preparations.
    struct MLXPreparation {
        /// Source tensors to plan, in output order (scales and biases of triples that are
        /// dequantized are left out: they are read as companions).
        var tensors: [TensorInfo]
        /// The request with the dtype mlx-lm would pick when `--dtype` is absent.
        var request: ConversionRequest
        /// The affine triples of the source, when they are dequantized or counted.
        var triples: AffineTriples?
        /// Whether the triples are dequantized (any output but an MLX directory).
        var dequantizeTriples: Bool
        /// The convolution layout change, when the output's layout differs from the source's.
        var layoutTarget: WeightLayout?
    }

    static func prepareMLX(
        _ request: ConversionRequest, source: any TensorSource, format: OutputFormat
    )
        throws(ConvertError) -> MLXPreparation
    {
        var tensors = source.tensors
        var effective = request
        if format == .mlx, source.format != .mlx, let dir = source as? ModelDirectory {
            // mlx_lm.convert: Model.sanitize, the config's dtype, the module order.
            tensors = MLXLMConventions.moduleOrder(
                MLXLMConventions.sanitize(tensors, config: dir.configuration))
            if effective.dtype == nil {
                effective.dtype = MLXLMConventions.defaultDType(dir.configuration)
            }
        }
        var triples: AffineTriples?
        let names = Set(tensors.map(\.name))
        let hasPacked = tensors.contains {
            $0.type == .dense(.u32) && names.contains(AffineNaming.module(ofWeight: $0.name) + ".scales")
        }
        if hasPacked {
            let config = (source as? ModelDirectory)?.configuration ?? Metadata()
            let found = try AffineTriples(tensors: tensors, config: config, file: request.source)
            if !found.layers.isEmpty { triples = found }
        }
        let dequantize = triples != nil && format != .mlx && request.affine == nil
        if dequantize, let triples {
            if request.gguf != nil {
                throw ConvertError(
                    "--gguf-type from MLX affine layers: convert to hf (dequantize) first, then to GGUF",
                    file: request.source)
            }
            tensors.removeAll { triples.companions.contains($0.name) }
        }
        let from = ConvLayout.sourceLayout(source)
        let to = ConvLayout.targetLayout(format, request: request, source: from)
        return MLXPreparation(
            tensors: tensors, request: effective, triples: triples, dequantizeTriples: dequantize,
            layoutTarget: from == to ? nil : to)
    }

    /// Plans one tensor with the MLX preparations applied: an affine triple dequantized, a
    /// convolution weight permuted, a packed weight counted as mlx-lm counts it; else as
    /// `plan(_:choice:request:format:)`.
    static func planMLXAware(
        _ t: TensorInfo, choice: TensorQuantization, prep: MLXPreparation, format: OutputFormat
    ) throws(ConvertError) -> PlannedTensor {
        let request = prep.request
        if let layer = prep.triples?.layers[t.name] {
            if prep.dequantizeTriples {
                guard case .dense(let scales) = layer.scales.type else {
                    throw ConvertError(
                        "tensor '\(t.name)': scales are not dense", file: request.source)
                }
                let to = request.dtype ?? .f32
                guard canHold(format, to) else {
                    throw ConvertError(
                        "tensor '\(t.name)': \(format.rawValue) cannot hold \(to.rawValue); add --dtype f32 or --dtype f16",
                        file: request.destination)
                }
                guard let out = TensorInfo(name: t.name, type: .dense(to), shape: layer.shape)
                else {
                    throw ConvertError(
                        "tensor '\(t.name)': shape \(layer.shape) does not fit \(to.rawValue)",
                        file: request.source)
                }
                var p = PlannedTensor(
                    source: t, outputs: [out],
                    action: .dequantizeAffine(
                        bits: layer.bits, groupSize: layer.groupSize, scales: scales, to: to),
                    note: nil)
                p.companions = [layer.scales, layer.biases]
                p.parameterCount = out.elementCount
                return p
            }
            var p = try plan(t, choice: .keep, request: request, format: format)
            p.parameterCount = layer.shape.reduce(1, *)
            return p
        }
        if let target = prep.layoutTarget, ConvLayout.isConvolutionWeight(t),
            case .dense(let d) = t.type
        {
            // Convolution weights are never quantized (mlx-lm quantizes Linear and Embedding).
            var p = try plan(t, choice: .keep, request: request, format: format)
            let perm = ConvLayout.permutation(rank: t.shape.count, to: target)
            guard case .dense(let outType) = p.output.type,
                let out = TensorInfo(
                    name: p.output.name, type: p.output.type, shape: perm.map { t.shape[$0] })
            else { return p }
            p.outputs = [out]
            p.action = .permute(perm, from: d, to: outType)
            return p
        }
        var p = try plan(t, choice: choice, request: request, format: format)
        if prep.triples?.companions.contains(t.name) == true { p.parameterCount = 0 }
        return p
    }
}

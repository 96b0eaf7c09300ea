import Compute
import Formats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Incremental decoding of a LLaMA-family model: a prompt is prefilled in one forward pass
/// that keeps every layer's keys and values, then each `step` runs one position against
/// that cache, so decoding N tokens costs N one-row passes instead of N whole forwards.
///
/// The logits of a step equal the last row of `forward(tokens:)` over the whole sequence
/// (to float rounding). Weights stay as stored: packed ones run through the quantized
/// kernels, dense matrices are read in place by the matrix-vector kernels during steps.
///
/// ```swift
/// let session = try DecodingSession(model: model, maxLength: 256)
/// let result = try session.generate(prompt: [1, 2, 3], maxTokens: 32)
/// print(result.ids, result.decodeTokensPerSecond)
/// ```
public final class DecodingSession {
    public let model: LlamaModel
    /// How graphs are evaluated (threads, backend).
    public var options: EvalOptions
    /// The keys and values of the positions decoded so far.
    public let cache: KeyValueCache
    /// RoPE tables for every position of the cache, [maxLength × D] each.
    let cosTable: [Float]
    let sinTable: [Float]
    /// Weights for calls of at most `matrixVectorRows` tokens (every dense matrix read by
    /// rows), and for longer ones (F32 matrices kept for sgemm).
    let stepWeights: [String: Weight]
    let prefillWeights: [String: Weight]

    /// Calls with at most this many tokens use the matrix-vector weights (the engine's
    /// quantized matmul takes its matrix-vector path up to 4 rows).
    static let matrixVectorRows = 4

    /// A session over `model` holding at most `maxLength` positions (prompt + generated).
    /// - Throws: `ComputeError` for a non-positive length or one the cache cannot hold.
    public init(model: LlamaModel, maxLength: Int, options: EvalOptions = EvalOptions())
        throws(ComputeError)
    {
        let c = model.configuration
        self.model = model
        self.options = options
        cache = try KeyValueCache(
            layers: c.layerCount, kvHeads: c.kvHeadCount, headDimension: c.headDimension,
            maxLength: maxLength)
        (cosTable, sinTable) = c.rope.tables(positions: maxLength, dimension: c.headDimension)
        stepWeights = model.rowReaderWeights(for: [.f32, .f16, .bf16])
        prefillWeights = model.rowReaderWeights(for: [.f16, .bf16])
    }

    /// Positions decoded so far.
    public var position: Int { cache.length }

    /// Forgets the sequence (the cache's memory is kept for the next one).
    public func reset() { cache.reset() }

    /// Runs `tokens` at the next positions (one forward pass over all of them) and returns
    /// the logits after the last one ([vocab] floats).
    /// - Throws: `ComputeError` for no tokens, an id outside the vocabulary, or a sequence
    ///   longer than the cache.
    public func prefill(_ tokens: [Int32]) throws(ComputeError) -> [Float] {
        try run(tokens)
    }

    /// Runs one token at the next position: its logits ([vocab] floats).
    public func step(_ token: Int32) throws(ComputeError) -> [Float] {
        try run([token])
    }

    func run(_ tokens: [Int32]) throws(ComputeError) -> [Float] {
        let c = model.configuration
        let (p, t, d) = (cache.length, tokens.count, c.headDimension)
        guard t <= cache.maxLength - p else {
            throw ComputeError(
                .shape("\(p) + \(t) positions exceed the session's \(cache.maxLength)"),
                op: "decode")
        }
        let rope = Rope(
            cos: try Tensor(Array(cosTable[(p * d)..<((p + t) * d)]), shape: [t, d]),
            sin: try Tensor(Array(sinTable[(p * d)..<((p + t) * d)]), shape: [t, d]),
            dimension: d)
        let weights = t <= Self.matrixVectorRows ? stepWeights : prefillWeights
        let graph = try model.decodingGraph(
            tokens: tokens, cache: cache, rope: rope, weights: weights)
        let e = try eval([graph.logits] + graph.keys + graph.values, options: options)
        let n = c.layerCount
        cache.append(
            keys: Array(e.arrays[1..<(1 + n)]), values: Array(e.arrays[(1 + n)..<(1 + 2 * n)]),
            count: t)
        return e.arrays[0].floats
    }

    /// Greedy decoding: prefills `prompt` (after a reset), then takes the most likely token
    /// `maxTokens` times, feeding each back; stops early after a token of `stop`.
    /// - Throws: `ComputeError` as `prefill`, or when prompt + maxTokens exceed the cache.
    public func generate(prompt: [Int32], maxTokens: Int, stop: Set<Int32> = [])
        throws(ComputeError) -> Generation
    {
        guard maxTokens >= 0, maxTokens <= cache.maxLength - prompt.count else {
            throw ComputeError(
                .shape(
                    "\(prompt.count) prompt + \(maxTokens) new tokens exceed the session's \(cache.maxLength)"
                ), op: "generate")
        }
        reset()
        var result = Generation(promptCount: prompt.count)
        guard maxTokens > 0 else { return result }
        let t0 = Self.now()
        var logits = try prefill(prompt)
        result.prefillSeconds = Self.now() - t0
        let t1 = Self.now()
        while true {
            let next = Self.argmax(logits)
            result.ids.append(next)
            if result.ids.count == maxTokens || stop.contains(next) { break }
            logits = try step(next)
            result.steps += 1
        }
        result.decodeSeconds = Self.now() - t1
        return result
    }

    /// The index of the largest value (the first on ties, as `argmax` in numpy/torch).
    public static func argmax(_ v: [Float]) -> Int32 {
        var best = 0
        for i in v.indices where v[i] > v[best] { best = i }
        return Int32(best)
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}

import Dispatch
import Formats

/// Whole-tensor entry points for ggml block types: size checks, rows of blocks, both cores.
///
/// Every codec is block-local, so splitting the blocks over threads gives the same bytes as one
/// thread (ggml's own `ggml_quantize_chunk` relies on the same property).
public enum GGMLCodec {
    /// The block codec implementing `t`, if any.
    public static func codec(_ t: GGMLType) -> (any BlockCodec.Type)? {
        switch t {
        case .Q4_0: Q4_0.self
        case .Q4_1: Q4_1.self
        case .Q5_0: Q5_0.self
        case .Q5_1: Q5_1.self
        case .Q8_0: Q8_0.self
        case .Q8_1: Q8_1.self
        case .Q2_K: Q2_K.self
        case .Q3_K: Q3_K.self
        case .Q4_K: Q4_K.self
        case .Q5_K: Q5_K.self
        case .Q6_K: Q6_K.self
        case .Q8_K: Q8_K.self
        case .IQ4_NL: IQ4_NL.self
        case .IQ4_XS: IQ4_XS.self
        case .TQ1_0: TQ1_0.self
        case .TQ2_0: TQ2_0.self
        case .MXFP4: MXFP4.self
        case .NVFP4: NVFP4.self
        case .Q1_0: Q1_0.self
        case .Q2_0: Q2_0.self
        case .IQ2_XXS: IQ2_XXS.self
        case .IQ2_XS: IQ2_XS.self
        case .IQ2_S: IQ2_S.self
        case .IQ3_XXS: IQ3_XXS.self
        case .IQ3_S: IQ3_S.self
        case .IQ1_S: IQ1_S.self
        case .IQ1_M: IQ1_M.self
        default: nil
        }
    }

    /// True when `dequantize` handles `t` (every block type above, and the float element types).
    public static func canDequantize(_ t: GGMLType) -> Bool {
        codec(t) != nil || [.F32, .F16, .BF16, .F64].contains(t)
    }

    /// True when `quantize` produces `t` bit-identical to ggml's reference quantizer.
    public static func canQuantize(_ t: GGMLType) -> Bool {
        codec(t) is any BlockEncoder.Type || [.F32, .F16, .BF16].contains(t)
    }

    /// Below this many weights a tensor is converted on the calling thread.
    static let parallelThreshold = 1 << 16

    /// Decodes `src` (whole blocks of `t`; `dst.count` weights) into float32, equal to
    /// gguf-py's `quants.dequantize`.
    public static func dequantize(_ t: GGMLType, _ src: UnsafeRawBufferPointer,
                                  into dst: UnsafeMutableBufferPointer<Float>) throws(QuantizeError) {
        if let dense = t.denseType, canDequantize(t) {
            try checkSize(t, weights: dst.count, bytes: src.count, what: "source")
            try Scalars.widen(src, from: dense, into: dst)
            return
        }
        guard let c = codec(t) else { throw QuantizeError(.unsupported("dequantizing \(t.name)")) }
        try checkSize(t, weights: dst.count, bytes: src.count, what: "source")
        // Concrete types for the hot ones, so the generic row loop is specialized (no witness
        // call per block); any other codec goes through its existential.
        switch t {
        case .Q4_0: decodeBlocks(Q4_0.self, src, dst)
        case .Q4_1: decodeBlocks(Q4_1.self, src, dst)
        case .Q8_0: decodeBlocks(Q8_0.self, src, dst)
        case .Q4_K: decodeBlocks(Q4_K.self, src, dst)
        case .Q5_K: decodeBlocks(Q5_K.self, src, dst)
        case .Q6_K: decodeBlocks(Q6_K.self, src, dst)
        default: decodeBlocks(c, src, dst)
        }
    }

    /// Encodes `src` (a whole number of blocks of `t`, rows laid end to end) into `dst`, the same
    /// bytes as ggml's reference quantizer (llama-quantize without imatrix). NaN/Inf in `src` is
    /// an error unless `allowNonFinite`.
    public static func quantize(_ t: GGMLType, _ src: UnsafeBufferPointer<Float>,
                                into dst: UnsafeMutableRawBufferPointer,
                                allowNonFinite: Bool = false) throws(QuantizeError) {
        guard canQuantize(t) else { throw QuantizeError(.unsupported("quantizing to \(t.name)")) }
        try checkSize(t, weights: src.count, bytes: dst.count, what: "destination")
        if let dense = t.denseType {
            if !allowNonFinite { try Quantize.checkFinite(src) }
            try Scalars.narrow(src, to: dense, into: dst)
            return
        }
        guard let c = codec(t) as? any BlockEncoder.Type else {
            throw QuantizeError(.unsupported("quantizing to \(t.name)"))
        }
        // The hot types get a loop specialized for them, with the NaN/Inf check fused into it
        // (each block is checked while it is in L1, just before it is encoded).
        let bad: Int?
        switch t {
        case .Q4_0:
            bad = encodeRuns(Q4_0.self, src, dst, allowNonFinite)
        case .Q8_0:
            bad = encodeRuns(Q8_0.self, src, dst, allowNonFinite)
        case .Q4_1: bad = encodeBlocks(Q4_1.self, src, dst, allowNonFinite)
        case .Q4_K: bad = encodeBlocks(Q4_K.self, src, dst, allowNonFinite)
        case .Q5_K: bad = encodeBlocks(Q5_K.self, src, dst, allowNonFinite)
        case .Q6_K: bad = encodeBlocks(Q6_K.self, src, dst, allowNonFinite)
        default:
            if !allowNonFinite { try Quantize.checkFinite(src) }
            encodeBlocks(c, src, dst)
            bad = nil
        }
        if let bad { throw QuantizeError(.nonFinite(index: bad)) }
    }

    // MARK: - Internals

    static func checkSize(_ t: GGMLType, weights: Int, bytes: Int, what: String) throws(QuantizeError) {
        guard weights % t.blockSize == 0 else {
            throw QuantizeError(.shape("\(weights) weights are not a whole number of \(t.name) blocks of \(t.blockSize)"))
        }
        guard let need = t.byteCount(elements: weights), need == bytes else {
            throw QuantizeError(.shape("\(what) holds \(bytes) bytes; \(weights) weights of \(t.name) take \(t.byteCount(elements: weights).map(String.init) ?? "too many")"))
        }
    }

    /// Runs `body(firstBlock, endBlock)` over chunks of `blocks`, in parallel for big tensors.
    static func forChunks(blocks: Int, weightsPerBlock: Int, _ body: @Sendable (Int, Int) -> Void) {
        // No blocks (an empty tensor, whose buffers may have no address): nothing to run.
        guard blocks > 0 else { return }
        let weights = blocks * weightsPerBlock
        if weights < parallelThreshold {
            body(0, blocks)
            return
        }
        let chunks = min(blocks, 64)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            body(blocks * c / chunks, blocks * (c + 1) / chunks)
        }
    }

    static func decodeBlocks<C: BlockCodec>(_: C.Type, _ src: UnsafeRawBufferPointer,
                                            _ dst: UnsafeMutableBufferPointer<Float>) {
        let n = C.weightsPerBlock, size = C.bytesPerBlock
        let buffers = UncheckedSendable((src, dst))
        forChunks(blocks: dst.count / n, weightsPerBlock: n) { lo, hi in
            let (src, dst) = buffers.value
            for i in lo..<hi {
                C.decode(UnsafeRawBufferPointer(rebasing: src[(i * size)..<((i + 1) * size)]),
                         into: UnsafeMutableBufferPointer(rebasing: dst[(i * n)..<((i + 1) * n)]))
            }
        }
    }

    static func encodeBlocks<C: BlockEncoder>(_: C.Type, _ src: UnsafeBufferPointer<Float>,
                                              _ dst: UnsafeMutableRawBufferPointer) {
        let n = C.weightsPerBlock, size = C.bytesPerBlock
        let buffers = UncheckedSendable((src, dst))
        forChunks(blocks: src.count / n, weightsPerBlock: n) { lo, hi in
            let (src, dst) = buffers.value
            for i in lo..<hi {
                let out = UnsafeMutableRawBufferPointer(rebasing: dst[(i * size)..<((i + 1) * size)])
                out.initializeMemory(as: UInt8.self, repeating: 0)
                C.encode(UnsafeBufferPointer(rebasing: src[(i * n)..<((i + 1) * n)]), into: out)
            }
        }
    }

    /// `encodeBlocks` with the NaN/Inf check fused in (unless `allowNonFinite`): returns the
    /// index of the first non-finite weight, or nil when every block was encoded.
    static func encodeBlocks<C: BlockEncoder>(_: C.Type, _ src: UnsafeBufferPointer<Float>,
                                              _ dst: UnsafeMutableRawBufferPointer, _ allowNonFinite: Bool) -> Int? {
        let n = C.weightsPerBlock, size = C.bytesPerBlock
        let buffers = UncheckedSendable((src, dst))
        return firstInChunks(blocks: src.count / n, weightsPerBlock: n) { lo, hi in
            let (src, dst) = buffers.value
            // In bounds: checkSize made src hold blocks·n floats and dst blocks·size bytes
            // (at least one block here, so both have an address).
            guard let x = src.baseAddress, let y = dst.baseAddress else { return nil }
            for i in lo..<hi {
                if !allowNonFinite, !allFinite(x + i * n, n) {
                    return i * n + (firstNonFinite(x + i * n, n) ?? 0)
                }
                let out = UnsafeMutableRawBufferPointer(start: y + i * size, count: size)
                out.initializeMemory(as: UInt8.self, repeating: 0)
                C.encode(UnsafeBufferPointer(start: x + i * n, count: n), into: out)
            }
            return nil
        }
    }

    /// The loop for codecs with a vector path for finite blocks: 16 blocks at a time through
    /// `encode16`, which checks them as it reduces them; a group holding NaN/Inf goes block by
    /// block, through `encodeFinite` or (NaN/Inf allowed) `encodeReference`. Returns the
    /// index of the first non-finite weight when `!allowNonFinite`, or nil when all were encoded.
    static func encodeRuns<C: FiniteBlockEncoder>(_: C.Type, _ src: UnsafeBufferPointer<Float>,
                                                  _ dst: UnsafeMutableRawBufferPointer, _ allowNonFinite: Bool) -> Int? {
        let n = C.weightsPerBlock, size = C.bytesPerBlock
        let buffers = UncheckedSendable((src, dst))
        return firstInChunks(blocks: src.count / n, weightsPerBlock: n) { lo, hi in
            let (src, dst) = buffers.value
            // In bounds: checkSize made src hold blocks·n floats and dst blocks·size bytes
            // (at least one block here, so both have an address).
            guard let x = src.baseAddress, let y = dst.baseAddress else { return nil }
            var i = lo
            while i < hi {
                // 16 blocks at a time; one by one for a group with NaN/Inf and for the tail.
                if hi - i >= 16, C.encode16(x + i * n, into: y + i * size) {
                    i += 16
                    continue
                }
                for j in i..<min(i + 16, hi) {
                    if allFinite(x + j * n, n) {
                        C.encodeFinite(x + j * n, into: y + j * size)
                    } else if allowNonFinite {
                        let out = UnsafeMutableRawBufferPointer(start: y + j * size, count: size)
                        out.initializeMemory(as: UInt8.self, repeating: 0)
                        C.encodeReference(UnsafeBufferPointer(start: x + j * n, count: n), into: out)
                    } else {
                        return j * n + (firstNonFinite(x + j * n, n) ?? 0)
                    }
                }
                i = min(i + 16, hi)
            }
            return nil
        }
    }

    /// `forChunks` for a body that stops at the first NaN/Inf and returns its index: the
    /// smallest index any chunk returned (each chunk's is its own first), or nil.
    static func firstInChunks(blocks: Int, weightsPerBlock: Int, _ body: @Sendable (Int, Int) -> Int?) -> Int? {
        guard blocks > 0 else { return nil }  // as forChunks
        if blocks * weightsPerBlock < parallelThreshold { return body(0, blocks) }
        let chunks = min(blocks, 64)
        let found = UnsafeMutableBufferPointer<Int>.allocate(capacity: chunks)
        defer { found.deallocate() }
        found.initialize(repeating: Int.max)
        let shared = UncheckedSendable(found)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            if let i = body(blocks * c / chunks, blocks * (c + 1) / chunks) { shared.value[c] = i }
        }
        let first = found.min() ?? Int.max
        return first == Int.max ? nil : first
    }
}

/// Hands buffers to `concurrentPerform` workers; each worker touches a disjoint range of blocks.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

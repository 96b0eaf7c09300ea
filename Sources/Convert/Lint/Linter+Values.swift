import Formats
import Quantize

/// Tensor values: NaN/Inf, all-zero tensors, values beyond F16's range.
extension LintState {
    /// The largest finite F16 value; a larger magnitude becomes Inf when cast to F16.
    static let f16Max: Float = 65504
    /// Elements converted to float32 at a time (bounded memory whatever the tensor's size).
    static let chunkElements = 1 << 18

    /// Counts of one tensor's values.
    struct ValueCounts {
        var nan = 0, inf = 0, zero = 0, beyondF16 = 0, total = 0
        var firstNonFinite: Int?
        var largest: Float = 0

        mutating func add(_ values: UnsafeBufferPointer<Float>, at base: Int) {
            for (i, v) in values.enumerated() {
                if v.isNaN {
                    nan += 1
                    if firstNonFinite == nil { firstNonFinite = base + i }
                } else if v.isInfinite {
                    inf += 1
                    if firstNonFinite == nil { firstNonFinite = base + i }
                } else {
                    let m = abs(v)
                    if m == 0 { zero += 1 }
                    if m > LintState.f16Max { beyondF16 += 1 }
                    if m > largest { largest = m }
                }
            }
            total += values.count
        }
    }

    /// Scans every floating or GGUF-quantized tensor (MLX packed codes are checked through
    /// their scales and biases, which are floating tensors themselves).
    mutating func scanValues() {
        guard options.scanValues else { return }
        for name in order {
            guard let t = tensors[name] else { continue }
            let counts: ValueCounts?
            do {
                counts = try Self.count(t)
            } catch {
                add(.error, "unreadable", file: t.file, tensor: name, "\(error)")
                continue
            }
            guard let c = counts else { continue }
            scanned += 1
            report(c, t)
        }
    }

    mutating func report(_ c: ValueCounts, _ t: LintedTensor) {
        let name = t.info.name
        if c.nan + c.inf > 0 {
            add(.error, "non-finite", file: t.file, tensor: name,
                "\(c.nan) NaN and \(c.inf) Inf of \(c.total) values (first at flat index \(c.firstNonFinite ?? 0))")
        }
        if c.total > 1, c.zero == c.total {
            let isWeight = name.hasSuffix("weight") || t.info.shape.count >= 2
            add(isWeight ? .warning : .info, "all-zero", file: t.file, tensor: name,
                "every one of its \(c.total) values is zero (a tensor never trained, or lost in a conversion?)")
        }
        if c.beyondF16 > 0, t.info.type != .dense(.f16) {
            let target = options.targetDType == .f16
            add(target ? .error : .warning, "f16-overflow", file: t.file, tensor: name,
                "\(c.beyondF16) values beyond F16's range (largest |x| = \(c.largest)): cast to F16 they become Inf")
        }
    }

    /// The counts of a floating or GGML-quantized tensor; nil for integer and packed tensors.
    static func count(_ t: LintedTensor) throws -> ValueCounts? {
        let info = t.info
        let rowElements = max(info.shape.last ?? 1, 1)
        let elementsPerByteChunk: (elements: Int, bytes: Int)
        let decode: (UnsafeRawBufferPointer, UnsafeMutableBufferPointer<Float>) throws -> Void
        switch info.type {
        case .dense(let d) where [.f16, .bf16, .f32, .f64].contains(d):
            guard let size = d.byteSize else { return nil }
            elementsPerByteChunk = (chunkElements, chunkElements * size)
            decode = { src, dst in try Scalars.widen(src, from: d, into: dst) }
        case .ggml(let g) where GGMLCodec.canDequantize(g):
            // Whole rows at a time, so every chunk is whole blocks.
            guard let rowBytes = g.byteCount(elements: rowElements) else { return nil }
            let rows = max(1, chunkElements / rowElements)
            elementsPerByteChunk = (rows * rowElements, rows * rowBytes)
            decode = { src, dst in try GGMLCodec.dequantize(g, src, into: dst) }
        default:
            return nil
        }
        let bytes = try t.source.bytes(of: info)
        var counts = ValueCounts()
        var buffer = [Float](repeating: 0, count: elementsPerByteChunk.elements)
        var offset = 0, element = 0
        try bytes.withBytes { (raw: UnsafeRawBufferPointer) throws in
            while offset < raw.count {
                let n = min(elementsPerByteChunk.bytes, raw.count - offset)
                // Chunks are whole elements or rows, so this division is exact.
                let elements = n * elementsPerByteChunk.elements / elementsPerByteChunk.bytes
                try buffer.withUnsafeMutableBufferPointer { dst in
                    let out = UnsafeMutableBufferPointer(rebasing: dst[0..<elements])
                    try decode(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + n)]), out)
                    counts.add(UnsafeBufferPointer(out), at: element)
                }
                offset += n
                element += elements
            }
        }
        return counts
    }
}

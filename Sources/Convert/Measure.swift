import Formats
import Quantize

/// Quantization error of one tensor, for `--error-report`: the output decoded again and
/// compared with the source values (both as float32).
enum Measure {
    static func affine(_ q: AffineQuantized, source raw: UnsafeRawBufferPointer, type: TensorType, shape: [Int])
        throws -> ErrorReport
    {
        let n = shape.reduce(1, *)
        var original = [Float](repeating: 0, count: n)
        var decoded = [Float](repeating: 0, count: n)
        try original.withUnsafeMutableBufferPointer { o in try decode(raw, type: type, into: o) }
        try q.packed.withUnsafeBytes { p in
            try q.scales.withUnsafeBytes { s in
                try q.biases.withUnsafeBytes { b in
                    try decoded.withUnsafeMutableBufferPointer { d in
                        try Affine.dequantize(
                            packed: p, scales: s, biases: b, dtype: q.dtype, shape: shape, bits: q.bits,
                            groupSize: q.groupSize, into: d)
                    }
                }
            }
        }
        return try compare(original, decoded)
    }

    static func ggml(_ type: GGMLType, _ blocks: UnsafeRawBufferPointer, original: UnsafeBufferPointer<Float>)
        throws -> ErrorReport
    {
        var decoded = [Float](repeating: 0, count: original.count)
        try decoded.withUnsafeMutableBufferPointer { d in try GGMLCodec.dequantize(type, blocks, into: d) }
        return try decoded.withUnsafeBufferPointer { d in try ErrorReport(original: original, reconstructed: d) }
    }

    static func decode(_ raw: UnsafeRawBufferPointer, type: TensorType, into out: UnsafeMutableBufferPointer<Float>) throws {
        switch type {
        case .dense(let d): try Scalars.widen(raw, from: d, into: out)
        case .ggml(let g): try GGMLCodec.dequantize(g, raw, into: out)
        }
    }

    static func compare(_ a: [Float], _ b: [Float]) throws -> ErrorReport {
        try a.withUnsafeBufferPointer { o in
            try b.withUnsafeBufferPointer { d in try ErrorReport(original: o, reconstructed: d) }
        }
    }
}

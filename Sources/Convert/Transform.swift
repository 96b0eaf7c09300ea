import Dispatch
import Foundation
import Formats
import Quantize

/// Element transforms of the pipeline, split across the cores for large tensors. Each chunk
/// is independent, so the result is the same whatever the number of threads.
enum Transform {
    /// Below this many bytes a tensor is converted on the calling thread.
    static let parallelThreshold = 1 << 20
    static var workers: Int { max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8)) }

    static func cast(
        _ src: UnsafeRawBufferPointer, from: DType, to: DType, into dst: UnsafeMutableRawBufferPointer
    ) throws {
        guard let inSize = from.byteSize, let outSize = to.byteSize else {
            throw ConvertError("cannot cast \(from.rawValue) to \(to.rawValue)")
        }
        let n = src.count / inSize
        try parallelChunks(count: n, bytes: src.count) { lo, hi throws(QuantizeError) in
            try Scalars.convert(
                UnsafeRawBufferPointer(rebasing: src[lo * inSize..<hi * inSize]), from: from, to: to,
                into: UnsafeMutableRawBufferPointer(rebasing: dst[lo * outSize..<hi * outSize]))
        }
    }

    static func dequantize(
        _ src: UnsafeRawBufferPointer, type: GGMLType, into dst: UnsafeMutableBufferPointer<Float>
    ) throws {
        guard GGMLCodec.canDequantize(type) else {
            throw ConvertError("dequantizing \(type.name) is not supported yet")
        }
        let blocks = dst.count / type.blockSize
        let bs = type.blockSize, bb = type.bytesPerBlock
        try parallelChunks(count: blocks, bytes: src.count) { lo, hi throws(QuantizeError) in
            try GGMLCodec.dequantize(
                type, UnsafeRawBufferPointer(rebasing: src[lo * bb..<hi * bb]),
                into: UnsafeMutableBufferPointer(rebasing: dst[lo * bs..<hi * bs]))
        }
    }

    /// Calls `body(lo, hi)` over `[0, count)` in one chunk per worker (or one chunk when small).
    static func parallelChunks(
        count: Int, bytes: Int, _ body: (Int, Int) throws(QuantizeError) -> Void
    ) throws(QuantizeError) {
        let w = bytes < parallelThreshold ? 1 : workers
        if w == 1 || count < w {
            try body(0, count)
            return
        }
        let errors = ErrorSlot()
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: w) { k in
                let lo = count * k / w, hi = count * (k + 1) / w
                do { try body(lo, hi) } catch { errors.set(error) }
            }
        }
        if let e = errors.error { throw e }
    }
}

/// The first error thrown by any chunk.
private final class ErrorSlot: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var stored: QuantizeError?
    var error: QuantizeError? { lock.withLock { stored } }
    func set(_ e: QuantizeError) { lock.withLock { if stored == nil { stored = e } } }
}

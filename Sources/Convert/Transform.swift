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
        try parallelChunks(count: n, bytes: src.count) { lo, hi in
            try Scalars.convert(
                UnsafeRawBufferPointer(rebasing: src[lo * inSize..<hi * inSize]), from: from, to: to,
                into: UnsafeMutableRawBufferPointer(rebasing: dst[lo * outSize..<hi * outSize]))
        }
    }

    /// The tensor's values as F32 (widened or dequantized), in a scratch buffer.
    static func floats(_ raw: UnsafeRawBufferPointer, type: TensorType, scratch: ScratchBuffers) throws
        -> UnsafeMutableBufferPointer<Float>
    {
        switch type {
        case .dense(let d):
            guard let size = d.byteSize, d.isFloatingPoint else {
                throw ConvertError("cannot quantize \(d.rawValue) values")
            }
            let out = scratch.floats(raw.count / size)
            try cast(raw, from: d, to: .f32, into: UnsafeMutableRawBufferPointer(out))
            return out
        case .ggml(let g):
            let out = scratch.floats(raw.count / g.bytesPerBlock * g.blockSize)
            try GGMLCodec.dequantize(g, raw, into: out)
            return out
        }
    }

    /// The tensor's values in the dense dtype `dtype` (no copy when already so).
    static func dense(_ raw: UnsafeRawBufferPointer, type: TensorType, as dtype: DType, scratch: ScratchBuffers) throws
        -> UnsafeRawBufferPointer
    {
        if type == .dense(dtype) { return raw }
        if case .dense(let d) = type, d.isFloatingPoint, let inSize = d.byteSize, let outSize = dtype.byteSize {
            let out = scratch.output(raw.count / inSize * outSize)
            try cast(raw, from: d, to: dtype, into: out)
            return UnsafeRawBufferPointer(out)
        }
        let f = try floats(raw, type: type, scratch: scratch)
        if dtype == .f32 { return UnsafeRawBufferPointer(f) }
        let out = scratch.output(f.count * (dtype.byteSize ?? 4))
        try cast(UnsafeRawBufferPointer(f), from: .f32, to: dtype, into: out)
        return UnsafeRawBufferPointer(out)
    }

    /// Calls `body(lo, hi)` over `[0, count)` in one chunk per worker (or one chunk when small).
    static func parallelChunks(
        count: Int, bytes: Int, _ body: (Int, Int) throws -> Void
    ) throws {
        let w = bytes < parallelThreshold ? 1 : workers
        if w == 1 || count < w {
            try body(0, count)
            return
        }
        let errors = ErrorSlot()
        withoutActuallyEscaping(body) { body in
            // Each chunk touches its own disjoint range of the buffers the body captures.
            let work = SendableBox(body)
            DispatchQueue.concurrentPerform(iterations: w) { k in
                let lo = count * k / w, hi = count * (k + 1) / w
                do { try work.value(lo, hi) } catch { errors.set(error) }
            }
        }
        if let e = errors.error { throw e }
    }
}

/// Hands a non-Sendable value to concurrent workers whose accesses are disjoint.
private struct SendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// The first error thrown by any chunk.
private final class ErrorSlot: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var stored: (any Error)?
    var error: (any Error)? { lock.withLock { stored } }
    func set(_ e: any Error) { lock.withLock { if stored == nil { stored = e } } }
}

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

    /// Elements per piece of a cast written straight to the output: 256 KiB of F32 input,
    /// so a piece's input and output stay in L2, and below Scalars' own threading threshold
    /// (GGMLCodec.parallelThreshold, 65536 elements) so each piece runs on its worker.
    static let pieceElements = 65_520

    /// Casts `src` into the output `region` piece by piece: each worker converts its pieces
    /// into its own small buffer and writes each at its place. Why: converting into one
    /// tensor-sized buffer and writing it afterwards sends every byte through memory twice
    /// and leaves the write (the kernel's copy into the page cache) on one core.
    static func cast(
        _ src: UnsafeRawBufferPointer, from: DType, to: DType, into region: OutputFile.Region,
        scratch: ScratchBuffers
    ) throws {
        guard let inSize = from.byteSize, let outSize = to.byteSize else {
            throw ConvertError("cannot cast \(from.rawValue) to \(to.rawValue)")
        }
        let n = src.count / inSize
        guard region.count == n * outSize else {
            throw ConvertError("\(n) \(to.rawValue) elements do not fill \(region.count) bytes")
        }
        let per = pieceElements
        let pieces = (n + per - 1) / per
        let w = src.count < parallelThreshold ? 1 : max(1, min(workers, pieces))
        let buffers = scratch.output(w * per * outSize)
        let errors = ErrorSlot()
        let work = SendableBox((src, buffers))
        let body: @Sendable (Int) -> Void = { k in
            let (src, buffers) = work.value
            let buffer = UnsafeMutableRawBufferPointer(rebasing: buffers[(k * per * outSize)..<((k + 1) * per * outSize)])
            // Worker k takes pieces k, k + w, …: all workers move through the tensor together.
            var p = k
            while p < pieces, errors.error == nil {
                let lo = p * per, hi = min(n, lo + per)
                let out = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<((hi - lo) * outSize)])
                do {
                    let piece = UnsafeRawBufferPointer(rebasing: src[(lo * inSize)..<(hi * inSize)])
                    prefault(piece)
                    try Scalars.convert(piece, from: from, to: to, into: out)
                    try region.write(UnsafeRawBufferPointer(out), at: lo * outSize)
                } catch {
                    errors.set(error)
                }
                p += w
            }
        }
        if w == 1 { body(0) } else { DispatchQueue.concurrentPerform(iterations: w, execute: body) }
        if let e = errors.error { throw e }
    }

    static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Maps a piece of a mapped source in one call (MADV_POPULATE_READ, Linux 5.14+) rather
    /// than a page fault per 64 KiB; a no-op where unsupported or for heap memory.
    static func prefault(_ piece: UnsafeRawBufferPointer) {
        #if os(Linux)
            guard let p = piece.baseAddress, piece.count > 0 else { return }
            let start = Int(bitPattern: p) & ~(pageSize - 1)
            let end = Int(bitPattern: p) + piece.count
            _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_POPULATE_READ)
        #endif
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

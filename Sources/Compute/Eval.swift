import Formats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Which backend runs a graph.
public enum BackendKind: Sendable, Hashable {
    /// Fused loops, OpenBLAS sgemm, quantized kernels, all cores.
    case cpu
    /// Plain loops accumulating in Double, one op at a time: the oracle for `.cpu`.
    case reference
}

/// How to run a graph.
public struct EvalOptions: Sendable, Hashable {
    public var backend: BackendKind
    /// Fuse elementwise chains (and the elementwise input of reductions) into single loops.
    /// Off, every op is its own kernel: the baseline fusion is measured against.
    public var fusion: Bool
    /// Worker threads (nil: all active processors). Results do not depend on it.
    public var threads: Int?
    /// Matrix products with a BF16 weight (read in place) round their other operand to
    /// bfloat16, as torch and MLX compute a bfloat16 model: on CPUs with AVX-512 BF16 that is
    /// twice the multiply-adds per instruction of float32. Off (the default), the activations
    /// stay float32, the precision verification wants. Products are exact and summed in
    /// float32 either way.
    public var bf16Products: Bool

    /// Defaults: CPU backend, fusion on, all processors, float32 activations.
    public init(
        backend: BackendKind = .cpu, fusion: Bool = true, threads: Int? = nil,
        bf16Products: Bool = false
    ) {
        self.backend = backend
        self.fusion = fusion
        self.threads = threads
        self.bf16Products = bf16Products
    }
}

/// What an eval did, for tests and benchmarks.
public struct EvalStats: Sendable, Hashable {
    /// Kernels launched (a fused chain counts once; views cost none; each kernel of a
    /// row-blocked group counts).
    public var kernels = 0
    /// Bytes read from memory by the kernels: each kernel's inputs, once. In a row-blocked
    /// group (a reduction over the last axis and its elementwise epilogue, run a few rows at
    /// a time), an input is counted once for the whole group: the later kernels re-read the
    /// block from cache (`cachedBytesRead`).
    public var bytesRead = 0
    /// Bytes written by the kernels: each kernel's output, once (in a group too, where an
    /// intermediate of the group still has its own buffer).
    public var bytesWritten = 0
    /// Of `kernels`, those run in row-blocked groups (see `bytesRead`).
    public var groupedKernels = 0
    /// Bytes that kernels of a row-blocked group re-read while the block is in cache: an
    /// input a previous kernel of the group read, or the output a previous one wrote for
    /// the same rows. Not part of `bytesRead` or `bytesMoved`.
    public var cachedBytesRead = 0
    /// Largest total of intermediate and output buffers alive at once.
    public var peakBytes = 0
    /// Sum of all buffers allocated (what peak would be if nothing were freed).
    public var allocatedBytes = 0

    /// Read plus written: the memory traffic fusion reduces.
    public var bytesMoved: Int { bytesRead + bytesWritten }
}

/// A result of `eval`: the output buffer itself (no copy is made at eval time), read as
/// host arrays or reused as a constant tensor.
public struct HostArray: Sendable, Equatable {
    public let shape: [Int]
    public let dtype: DType
    let storage: Storage
    let offset: Int

    init(shape: [Int], dtype: DType, storage: Storage, offset: Int) {
        self.shape = shape
        self.dtype = dtype
        self.storage = storage
        self.offset = offset
    }

    public var count: Int { shape.reduce(1, *) }

    /// The values as Float (I32 converted; F16/BF16 exactly widened): a copy.
    public var floats: [Float] {
        if dtype == .i32 { return int32s.map { Float($0) } }
        return Array(UnsafeBufferPointer(start: storage.floats + offset, count: count))
    }

    /// The values of an I32 result (converted by truncation for float results): a copy.
    public var int32s: [Int32] {
        if dtype != .i32 { return floats.map { Scalars.toInt32($0) } }
        return Array(UnsafeBufferPointer(start: storage.ints + offset, count: count))
    }

    /// Reads the F32-widened values in place (float results only; I32 results are copied).
    public func withUnsafeFloats<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R
    {
        if dtype == .i32 { return try floats.withUnsafeBufferPointer(body) }
        return try body(UnsafeBufferPointer(start: storage.floats + offset, count: count))
    }

    /// The result as a constant tensor over the same memory, to feed a later graph.
    public var tensor: Tensor {
        Tensor(Node(.constant(.host(storage, offset: offset)), [], shape: shape, dtype: dtype))
    }

    /// Same shape, dtype and bit patterns (so NaNs compare equal to themselves).
    public static func == (a: HostArray, b: HostArray) -> Bool {
        guard a.shape == b.shape, a.dtype == b.dtype else { return false }
        return memcmp(a.storage.base + 4 * a.offset, b.storage.base + 4 * b.offset, 4 * a.count)
            == 0
    }
}

/// The results of `eval`, in the order asked, with statistics.
public struct Evaluation: Sendable {
    public var arrays: [HostArray]
    public var stats: EvalStats
}

/// Runs the graphs of `tensors` together (shared subgraphs run once) and reads the results.
///
/// - Throws: `ComputeError` for data-dependent failures (a gathered index out of range).
///
/// ```swift
/// let e = try eval([logits.softmax(axis: -1)])
/// print(e.arrays[0].floats, e.stats.kernels)
/// ```
public func eval(_ tensors: [Tensor], options: EvalOptions = EvalOptions()) throws(ComputeError)
    -> Evaluation
{
    switch options.backend {
    case .reference:
        return try ReferenceBackend().run(tensors.map(\.node))
    case .cpu:
        var exec = CPUExecutor(options: options)
        return try exec.run(tensors.map(\.node))
    }
}

import Formats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Counts the bytes of intermediates alive during an eval, and the peak.
final class MemoryTracker: @unchecked Sendable {
    // Sendable: every access holds `lock`.
    private var lock = pthread_mutex_t()
    private(set) var current = 0
    private(set) var peak = 0
    private(set) var allocations = 0

    init() { pthread_mutex_init(&lock, nil) }
    deinit { pthread_mutex_destroy(&lock) }

    func allocate(_ bytes: Int) {
        pthread_mutex_lock(&lock)
        current += bytes
        allocations += 1
        peak = max(peak, current)
        pthread_mutex_unlock(&lock)
    }

    func free(_ bytes: Int) {
        pthread_mutex_lock(&lock)
        current -= bytes
        pthread_mutex_unlock(&lock)
    }

    var snapshot: (current: Int, peak: Int, allocations: Int) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return (current, peak, allocations)
    }
}

/// A block of 4-byte elements (F32 or I32): owned heap memory, or memory borrowed from a
/// `ByteBuffer` (a mapped weight read in place, kept alive by this object).
public final class Storage: @unchecked Sendable {
    // Sendable: written only by the kernel producing it, before any reader sees it.
    let base: UnsafeMutableRawPointer
    let elements: Int
    private let owner: ByteBuffer?
    private let tracker: MemoryTracker?

    /// Allocates `elements` uninitialized 4-byte elements, counted by `tracker`.
    init(elements: Int, tracker: MemoryTracker?) {
        precondition(elements >= 0)
        base = BufferCache.shared.allocate(max(elements, 1) * 4)
        self.elements = elements
        owner = nil
        self.tracker = tracker
        tracker?.allocate(elements * 4)
    }

    /// Reads `elements` elements at `pointer`, which lies inside `owner`.
    init(borrowing pointer: UnsafeRawPointer, elements: Int, owner: ByteBuffer) {
        base = UnsafeMutableRawPointer(mutating: pointer)
        self.elements = elements
        self.owner = owner
        tracker = nil
    }

    deinit {
        if owner == nil {
            BufferCache.shared.release(base, max(elements, 1) * 4)
            tracker?.free(elements * 4)
        }
    }

    /// Allocated by an eval (not a constant's or a mapped file's memory): may be reused.
    var isOwned: Bool { tracker != nil }

    var floats: UnsafeMutablePointer<Float> { base.assumingMemoryBound(to: Float.self) }
    var ints: UnsafeMutablePointer<Int32> { base.assumingMemoryBound(to: Int32.self) }
}

/// A runtime array: storage plus a strided layout (views share storage).
struct Value {
    var storage: Storage
    var offset: Int
    var shape: [Int]
    var strides: [Int]
    var dtype: DType

    /// A fresh contiguous array.
    init(allocating shape: [Int], dtype: DType, tracker: MemoryTracker?) {
        storage = Storage(elements: shape.reduce(1, *), tracker: tracker)
        offset = 0
        self.shape = shape
        strides = Shape.strides(shape)
        self.dtype = dtype
    }

    init(storage: Storage, offset: Int, shape: [Int], strides: [Int], dtype: DType) {
        self.storage = storage
        self.offset = offset
        self.shape = shape
        self.strides = strides
        self.dtype = dtype
    }

    var count: Int { shape.reduce(1, *) }

    /// Row-major contiguous (size-1 dims may have any stride).
    var isContiguous: Bool {
        var expected = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) where shape[i] != 1 {
            if strides[i] != expected { return false }
            expected *= shape[i]
        }
        return true
    }

    var floats: UnsafeMutablePointer<Float> { storage.floats + offset }
    var ints: UnsafeMutablePointer<Int32> { storage.ints + offset }
}

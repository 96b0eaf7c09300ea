#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Freed eval buffers kept for the next allocation of the same size.
///
/// A large `malloc` is a fresh `mmap`: every 4 KiB page of it faults and is zeroed by the
/// kernel on first write, which cost a quarter of a memory-bound kernel's time. Evals of the
/// same graph (a layer after another, a decode step after another) ask for the same sizes
/// again, so a freed buffer is parked here and handed out again, as MLX's allocator and
/// PyTorch's caching allocator do. Memory held is capped (`capacityBytes`): when a buffer is
/// parked beyond it, the least recently parked ones are freed, so a cache filled by one
/// workload's sizes makes room for the next one's (keeping the old ones and freeing the new
/// made every later eval fault its buffers in again). Contents are not cleared: kernels
/// write every element.
final class BufferCache: @unchecked Sendable {
    // Sendable: every access to the lists holds `lock`.
    static let shared = BufferCache()

    /// Most bytes parked at once by `shared` (beyond it, the least recently parked go back
    /// to the system).
    static let capacityBytes = 256 << 20
    /// Smaller blocks come from malloc's own free lists, which are fast already.
    static let minimumBytes = 64 << 10

    private struct Parked {
        let pointer: UnsafeMutableRawPointer
        let bytes: Int
        let stamp: Int
    }

    private var lock = pthread_mutex_t()
    private var free: [Int: [Parked]] = [:]
    private var held = 0
    private var clock = 0
    /// This cache's cap on parked bytes.
    let capacity: Int

    /// A cache holding at most `capacity` parked bytes (`shared` holds `capacityBytes`).
    init(capacity: Int = BufferCache.capacityBytes) {
        self.capacity = capacity
        pthread_mutex_init(&lock, nil)
    }

    /// A 64-byte aligned block of `bytes` bytes: a parked one, or a new allocation.
    func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        if bytes >= Self.minimumBytes {
            pthread_mutex_lock(&lock)
            let p = free[bytes]?.popLast()
            if p != nil { held -= bytes }
            pthread_mutex_unlock(&lock)
            if let p { return p.pointer }
        }
        return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    }

    /// Parks `p` (from `allocate(bytes)`) for reuse, freeing the least recently parked
    /// buffers while more than `capacity` bytes are held; a buffer larger than the whole
    /// capacity is freed at once.
    func release(_ p: UnsafeMutableRawPointer, _ bytes: Int) {
        guard bytes >= Self.minimumBytes, bytes <= capacity else {
            p.deallocate()
            return
        }
        var evicted: [UnsafeMutableRawPointer] = []
        pthread_mutex_lock(&lock)
        clock += 1
        free[bytes, default: []].append(Parked(pointer: p, bytes: bytes, stamp: clock))
        held += bytes
        while held > capacity {
            // The oldest parked buffer is the first of some size's list (lists grow in
            // stamp order); few sizes are ever parked, so a scan is cheap.
            guard let (size, _) = free.min(by: { ($0.value.first?.stamp ?? .max) < ($1.value.first?.stamp ?? .max) }),
                let oldest = free[size]?.first
            else { break }
            free[size]?.removeFirst()
            if free[size]?.isEmpty == true { free[size] = nil }
            held -= oldest.bytes
            evicted.append(oldest.pointer)
        }
        pthread_mutex_unlock(&lock)
        for e in evicted { e.deallocate() }
    }

    /// Frees every parked buffer (tests; a caller done with computing).
    func clear() {
        pthread_mutex_lock(&lock)
        let all = free.values.flatMap { $0.map(\.pointer) }
        free = [:]
        held = 0
        pthread_mutex_unlock(&lock)
        for p in all { p.deallocate() }
    }

    /// Bytes parked now.
    var heldBytes: Int {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return held
    }
}

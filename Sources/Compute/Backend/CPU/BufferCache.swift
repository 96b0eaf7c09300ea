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
/// PyTorch's caching allocator do. Memory held is capped (`capacityBytes`); a buffer that
/// does not fit is freed at once. Contents are not cleared: kernels write every element.
final class BufferCache: @unchecked Sendable {
    // Sendable: every access to the lists holds `lock`.
    static let shared = BufferCache()

    /// Most bytes parked at once (beyond it, freed buffers go back to the system).
    static let capacityBytes = 256 << 20
    /// Smaller blocks come from malloc's own free lists, which are fast already.
    static let minimumBytes = 64 << 10

    private var lock = pthread_mutex_t()
    private var free: [Int: [UnsafeMutableRawPointer]] = [:]
    private var held = 0

    private init() { pthread_mutex_init(&lock, nil) }

    /// A 64-byte aligned block of `bytes` bytes: a parked one, or a new allocation.
    func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        if bytes >= Self.minimumBytes {
            pthread_mutex_lock(&lock)
            let p = free[bytes]?.popLast()
            if p != nil { held -= bytes }
            pthread_mutex_unlock(&lock)
            if let p { return p }
        }
        return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    }

    /// Parks `p` (from `allocate(bytes)`) for reuse, or frees it when the cache is full.
    func release(_ p: UnsafeMutableRawPointer, _ bytes: Int) {
        if bytes >= Self.minimumBytes {
            pthread_mutex_lock(&lock)
            let parked = held + bytes <= Self.capacityBytes
            if parked {
                free[bytes, default: []].append(p)
                held += bytes
            }
            pthread_mutex_unlock(&lock)
            if parked { return }
        }
        p.deallocate()
    }

    /// Frees every parked buffer (tests; a caller done with computing).
    func clear() {
        pthread_mutex_lock(&lock)
        let all = free.values.flatMap { $0 }
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

import Testing

@testable import Compute

/// The eval buffer cache keeps what was freed last when it is full, so one workload's sizes
/// do not lock out the next one's.
@Suite("Eval buffer cache")
struct BufferCacheTests {
    @Test("a full cache frees its least recently parked buffers, never exceeds its cap, reuses the newest")
    func evictsOldest() {
        let mib = 1 << 20
        let cache = BufferCache(capacity: 8 * mib)
        defer { cache.clear() }
        // Fill it with one size (a GEMM's buffers, say)…
        let old = (0..<4).map { _ in cache.allocate(2 * mib) }
        for p in old { cache.release(p, 2 * mib) }
        #expect(cache.heldBytes == 8 * mib)
        // …then another workload frees buffers of another size: they are kept, the oldest
        // of the first size go.
        let new = cache.allocate(3 * mib)
        cache.release(new, 3 * mib)
        #expect(cache.heldBytes <= 8 * mib)
        #expect(cache.heldBytes == 3 * mib + 2 * 2 * mib)
        #expect(cache.allocate(3 * mib) == new)
        // The survivors of the first size are the most recently parked ones.
        let a = cache.allocate(2 * mib), b = cache.allocate(2 * mib)
        #expect(Set([a, b]) == Set(old[2...]))
        cache.release(a, 2 * mib)
        cache.release(b, 2 * mib)
        // Larger than the whole cap: freed at once, nothing evicted for it.
        let huge = cache.allocate(16 * mib)
        let before = cache.heldBytes
        cache.release(huge, 16 * mib)
        #expect(cache.heldBytes == before)
        // Small blocks never enter it.
        let small = cache.allocate(1024)
        cache.release(small, 1024)
        #expect(cache.heldBytes == before)
    }
}

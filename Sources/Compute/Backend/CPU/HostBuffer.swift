/// Host F32 memory that the caller writes between evals and graphs read as a constant.
///
/// Graph values are immutable, which suits everything but a decoder's key/value cache: a
/// buffer of the maximum length, filled one position per step and read by every later
/// step. A `HostBuffer` is that buffer. `tensor(shape:)` is a constant over its memory (no
/// copy); a slice of it reads only the positions written so far. Writing while an eval that
/// reads the buffer runs is a data race: the caller writes only between evals.
///
/// ```swift
/// let cache = HostBuffer(count: heads * maxLength * dim)
/// cache.write(newRow, at: (h * maxLength + p) * dim)
/// let past = try cache.tensor(shape: [1, heads, maxLength, dim]).slice(axis: 2, start: 0, end: p + 1)
/// ```
public final class HostBuffer: @unchecked Sendable {
    // Sendable: written only by its owner between evals (documented above).
    let storage: Storage
    /// Number of F32 elements.
    public let count: Int

    /// `count` floats, zero-filled.
    public init(count: Int) {
        precondition(count >= 0, "negative buffer size")
        storage = Storage(elements: count, tracker: nil)
        self.count = count
        storage.floats.update(repeating: 0, count: count)
    }

    /// Copies `values` to elements `offset ..< offset + values.count`.
    public func write(_ values: UnsafeBufferPointer<Float>, at offset: Int) {
        precondition(offset >= 0 && offset <= count - values.count, "write outside the buffer")
        guard let src = values.baseAddress else { return }
        (storage.floats + offset).update(from: src, count: values.count)
    }

    /// Reads element `i` (tests).
    public subscript(i: Int) -> Float {
        precondition(i >= 0 && i < count)
        return storage.floats[i]
    }

    /// An F32 constant of `shape` over the whole buffer (no copy).
    /// - Throws: `ComputeError` when `shape` does not hold `count` elements.
    public func tensor(shape: [Int]) throws(ComputeError) -> Tensor {
        let n = try Tensor.checkShape(shape, op: "constant")
        guard n == count else {
            throw ComputeError(.shape("\(count) elements for shape \(shape)"), op: "constant")
        }
        return Tensor(Node(.constant(.host(storage, offset: 0)), [], shape: shape, dtype: .f32))
    }
}

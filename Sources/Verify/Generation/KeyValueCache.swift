import Compute

/// Each layer's keys (after RoPE) and values for every position decoded so far, in buffers
/// of the maximum length allocated once.
///
/// Layout per layer: [1, kvHeads, maxLength, headDimension], the layout attention reads, so
/// the past positions are a strided view of the buffer (`past(layer:)`), never a copy.
public final class KeyValueCache {
    /// Positions the buffers hold.
    public let maxLength: Int
    public let kvHeads: Int
    public let headDimension: Int
    /// Positions written so far (`0 ... maxLength`).
    public private(set) var length = 0
    let keys: [HostBuffer]
    let values: [HostBuffer]

    /// Buffers for `layers` layers of `kvHeads` × `maxLength` × `headDimension` floats.
    /// - Throws: `ComputeError` when the sizes overflow.
    public init(layers: Int, kvHeads: Int, headDimension: Int, maxLength: Int)
        throws(ComputeError)
    {
        guard layers >= 0, kvHeads > 0, headDimension > 0, maxLength > 0,
            let n = [kvHeads, maxLength, headDimension].checkedProduct
        else {
            throw ComputeError(
                .shape("cache of \(kvHeads) heads × \(maxLength) × \(headDimension)"),
                op: "kv_cache")
        }
        self.maxLength = maxLength
        self.kvHeads = kvHeads
        self.headDimension = headDimension
        keys = (0..<layers).map { _ in HostBuffer(count: n) }
        values = (0..<layers).map { _ in HostBuffer(count: n) }
    }

    /// Bytes held by the buffers.
    public var byteCount: Int { 4 * (keys.count + values.count) * (keys.first?.count ?? 0) }

    /// Forgets every position (the buffers are kept).
    public func reset() { length = 0 }

    /// Keys and values of positions `0 ..< length` of `layer`, [1, kvHeads, length, D]
    /// (nil while the cache is empty).
    func past(layer: Int) throws(ComputeError) -> (keys: Tensor, values: Tensor)? {
        guard length > 0 else { return nil }
        let shape = [1, kvHeads, maxLength, headDimension]
        return (
            try keys[layer].tensor(shape: shape).slice(axis: 2, start: 0, end: length),
            try values[layer].tensor(shape: shape).slice(axis: 2, start: 0, end: length)
        )
    }

    /// Appends `count` positions: `newKeys[l]` and `newValues[l]` are [1, kvHeads, count, D].
    func append(keys newKeys: [HostArray], values newValues: [HostArray], count: Int) {
        precondition(length + count <= maxLength, "cache overflow")
        let d = headDimension
        for (buffers, arrays) in [(keys, newKeys), (values, newValues)] {
            for (buffer, array) in zip(buffers, arrays) {
                precondition(array.shape == [1, kvHeads, count, d])
                array.withUnsafeFloats { src in
                    for h in 0..<kvHeads {
                        let rows = UnsafeBufferPointer(
                            rebasing: src[(h * count * d)..<((h + 1) * count * d)])
                        buffer.write(rows, at: (h * maxLength + length) * d)
                    }
                }
            }
        }
        length += count
    }
}

extension Array where Element == Int {
    /// The product, or nil on overflow or a negative factor.
    var checkedProduct: Int? {
        var n = 1
        for x in self {
            guard x >= 0 else { return nil }
            let (m, o) = n.multipliedReportingOverflow(by: x)
            if o { return nil }
            n = m
        }
        return n
    }
}

/// Materializes a dense row-major little-endian copy of an array stored with other element
/// strides (Fortran order) and/or big-endian elements: what `TensorSource.bytes(of:)`
/// promises when the file does not store the tensor that way.
enum StridedCopy {
    /// Column-major element strides for `shape`, or nil when the order makes no difference
    /// (fewer than two axes of length > 1, or no elements).
    static func fortranStrides(_ shape: [Int]) -> [Int]? {
        guard shape.filter({ $0 > 1 }).count > 1, !shape.contains(0) else { return nil }
        var strides: [Int] = []
        var step = 1
        // Products cannot overflow: the caller checked product(shape) × itemsize.
        for d in shape {
            strides.append(step)
            step *= d
        }
        return strides
    }

    /// Copies `source` (elements of `itemSize` bytes at element `strides`, or row-major when
    /// nil) into a new row-major buffer, byte-swapping units of `swap` bytes (0: none).
    ///
    /// `source` must hold every addressed element: the caller checked that it holds
    /// product(shape) × itemSize bytes and that the strides are a permutation of a dense
    /// layout, so every offset below is less than `source.count`.
    static func materialize(
        _ source: ByteSlice, shape: [Int], itemSize: Int, strides: [Int]?, swap: Int, name: String
    ) throws(FormatError) -> ByteSlice {
        let count = source.count
        let out = try ByteBuffer.make(count: count, name: name) { (dst) throws(FormatError) in
            guard count > 0, let d = dst.baseAddress, let s = source.raw.baseAddress else { return }
            let elements = count / itemSize
            guard let strides else {
                for e in 0..<elements {
                    copyElement(s + e * itemSize, d + e * itemSize, itemSize, swap)
                }
                return
            }
            // Walk the destination in row-major order with an odometer over `shape`,
            // tracking the source element offset incrementally.
            let rank = shape.count
            var index = [Int](repeating: 0, count: rank)
            var src = 0
            for e in 0..<elements {
                copyElement(s + src * itemSize, d + e * itemSize, itemSize, swap)
                var axis = rank - 1
                while axis >= 0 {
                    index[axis] += 1
                    src += strides[axis]
                    if index[axis] < shape[axis] { break }
                    src -= strides[axis] * shape[axis]
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
        return out.all
    }

    /// Copies one element; `swap` is the byte-swap unit (0: none; 4 for complex64, which is
    /// two float32 whose halves swap separately; else the item size).
    @inline(__always)
    private static func copyElement(
        _ src: UnsafeRawPointer, _ dst: UnsafeMutableRawPointer, _ size: Int, _ swap: Int
    ) {
        guard swap > 0 else {
            dst.copyMemory(from: src, byteCount: size)
            return
        }
        var unit = 0
        while unit < size {
            for i in 0..<swap {
                let b = src.load(fromByteOffset: unit + swap - 1 - i, as: UInt8.self)
                dst.storeBytes(of: b, toByteOffset: unit + i, as: UInt8.self)
            }
            unit += swap
        }
    }
}

/// Strided views of a storage (PyTorch's `as_strided` layout): contiguity and the gather
/// that turns a view into dense row-major bytes.
enum TorchLayout {
    /// True when (shape, strides) is dense row-major; strides of size-1 dims do not matter
    /// (`TensorImpl::compute_contiguous`), and an empty tensor is contiguous.
    static func isContiguous(shape: [Int], strides: [Int]) -> Bool {
        if shape.contains(0) { return true }
        var expected = 1
        for (n, s) in zip(shape, strides).reversed() where n != 1 {
            guard s == expected else { return false }
            expected *= n  // cannot overflow: the element count was checked
        }
        return true
    }

    /// Copies the view (`offset` in bytes, `strides` in elements) out of `data` in row-major
    /// order. The view is checked to lie inside `data` before anything is read.
    static func gather(
        _ data: ByteSlice, offset: Int, shape: [Int], strides: [Int], elementSize: Int,
        field: String
    ) throws(FormatError) -> ByteSlice {
        let fail = { (m: String) in
            FormatError(.invalid(m), file: data.name, offset: data.offset, field: field)
        }
        guard shape.count == strides.count, offset >= 0, elementSize > 0,
            let count = shape.checkedElementCount
        else { throw fail("view shape \(shape) and strides \(strides) do not match") }
        let (total, o0) = count.multipliedReportingOverflow(by: elementSize)
        guard !o0 else { throw fail("view byte size overflows") }
        if count > 0 {
            var last = 0
            var overflow = false
            for (n, s) in zip(shape, strides) {
                let (step, o1) = (n - 1).multipliedReportingOverflow(by: s)
                let (sum, o2) = last.addingReportingOverflow(step)
                overflow = overflow || o1 || o2 || s < 0
                last = sum
            }
            let (endElements, o3) = last.addingReportingOverflow(1)
            let (endBytes, o4) = endElements.multipliedReportingOverflow(by: elementSize)
            let (end, o5) = endBytes.addingReportingOverflow(offset)
            guard !(overflow || o3 || o4 || o5), end <= data.count else {
                throw fail(
                    "view (offset \(offset), shape \(shape), strides \(strides)) reaches past "
                        + "its storage of \(data.count) bytes"
                )
            }
        }
        let buffer = try ByteBuffer.make(count: total, name: data.name) { out throws(FormatError) in
            guard count > 0, let dst = out.baseAddress else { return }
            // In bounds: every index visited is ≤ the last element checked above.
            let src = data.buffer.base + data.offset + offset
            let rank = shape.count
            // A size-1 dim is never stepped through, so its stride (which the extent check
            // above does not bound) is taken as 0; every other byte stride is ≤ the extent.
            let strides = zip(shape, strides).map { n, s in n == 1 ? 0 : s }
            if rank == 0 {
                dst.copyMemory(from: src, byteCount: elementSize)
                return
            }
            let inner = shape[rank - 1]
            let innerStride = strides[rank - 1] * elementSize
            let runBytes = inner * elementSize
            var index = [Int](repeating: 0, count: rank - 1)
            var written = 0
            var base = 0  // byte offset of the current row's first element
            while written < total {
                if innerStride == elementSize {
                    (dst + written).copyMemory(from: src + base, byteCount: runBytes)
                } else {
                    for j in 0..<inner {
                        (dst + written + j * elementSize).copyMemory(
                            from: src + base + j * innerStride, byteCount: elementSize)
                    }
                }
                written += runBytes
                // Odometer over the outer dims.
                var d = rank - 2
                while d >= 0 {
                    index[d] += 1
                    base += strides[d] * elementSize
                    if index[d] < shape[d] { break }
                    base -= shape[d] * strides[d] * elementSize
                    index[d] = 0
                    d -= 1
                }
            }
        }
        return buffer.all
    }
}

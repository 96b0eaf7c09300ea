import CKernels
import COpenBLAS
import Formats

/// Matrix kernels: float matmul through OpenBLAS, and packed weights decoded tile by tile.
extension CPUExecutor {
    /// (possibly copied value, transposed?, leading dimension) for a BLAS operand.
    mutating func blasOperand(_ v: Value) -> (Value, Bool, Int) {
        let r = v.shape.count
        let rows = v.shape[r - 2], cols = v.shape[r - 1]
        let s0 = v.strides[r - 2], s1 = v.strides[r - 1]
        if s1 == 1 || cols == 1 {
            let ld = rows == 1 ? Swift.max(cols, 1) : s0
            if ld >= Swift.max(cols, 1) { return (v, false, ld) }
        }
        if s0 == 1 || rows == 1 {
            let ld = cols == 1 ? Swift.max(rows, 1) : s1
            if ld >= Swift.max(rows, 1) { return (v, true, ld) }
        }
        let c = materialize(v)
        return (c, false, Swift.max(cols, 1))
    }

    mutating func matmul(_ a0: Value, _ b0: Value, _ node: Node) -> Value {
        let out = allocate(node.shape, node.dtype)
        launched(reading: [a0, b0], writing: out.count)
        let (a, ta, lda) = blasOperand(a0)
        let (b, tb, ldb) = blasOperand(b0)
        let r = node.shape.count
        let m = node.shape[r - 2], n = node.shape[r - 1], k = a.shape[a.shape.count - 1]
        let batch = Array(node.shape.dropLast(2))
        let aB = Shape.broadcastStrides(
            Array(a.shape.dropLast(2)), Array(a.strides.dropLast(2)), to: batch)
        let bB = Shape.broadcastStrides(
            Array(b.shape.dropLast(2)), Array(b.strides.dropLast(2)), to: batch)
        let nb = batch.reduce(1, *)
        if m == 0 || n == 0 { return out }
        if k == 0 {
            out.floats.update(repeating: 0, count: out.count)
            return out
        }
        for bi in 0..<nb {
            var ao = 0, bo = 0, l = bi
            for d in stride(from: batch.count - 1, through: 0, by: -1) {
                let x = l % batch[d]
                l /= batch[d]
                ao += x * aB[d]
                bo += x * bB[d]
            }
            cblas_sgemm(
                CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), 1, a.floats + ao, Int32(lda), b.floats + bo,
                Int32(ldb),
                0, out.floats + bi * m * n, Int32(n))
        }
        return finish(out)
    }

    /// Runs `body` over `0..<n` rows of W split among the threads, in blocks of about 128 KiB
    /// of weights: small enough to stay in L2 while each input of a matrix-vector product
    /// passes over them.
    func forRowBlocks(_ n: Int, bytesPerRow: Int, _ body: (Range<Int>) -> Void) {
        let block = Swift.max(1, (128 << 10) / Swift.max(1, bytesPerRow))
        parallelRanges(n, threads: threads, minimumPerRange: 16) { r in
            var r0 = r.lowerBound
            while r0 < r.upperBound {
                let r1 = Swift.min(r.upperBound, r0 + block)
                body(r0..<r1)
                r0 = r1
            }
        }
    }

    /// Rows of W dequantized into a small tile and consumed at once: a dot product per input
    /// row for matrix-vector shapes, an sgemm per block of rows otherwise.
    mutating func quantizedMatmul(_ x0: Value, _ w: QuantizedWeight, _ node: Node) -> Value {
        let x = materialize(x0)
        let out = allocate(node.shape, node.dtype)
        launched(reading: [x], writing: out.count)
        let deq = w.dequantizer
        stats.bytesRead += deq.bytesPerRow * deq.rows
        let kk = w.columns, n = w.rows
        let m = kk == 0 ? 0 : x.count / kk
        let xp = x.floats, dst = out.floats
        if m == 0 || n == 0 { return out }
        if m <= 4, let a = deq as? AffineRows, a.hasFastMatvec {
            // x prepared once per product (reordered, group sums), then one pass per row in
            // CKernels' vector loop.
            let groups = a.groups
            let xs = UnsafeMutablePointer<Float>.allocate(capacity: m * kk)
            let sums = UnsafeMutablePointer<Float>.allocate(capacity: m * groups)
            defer {
                xs.deallocate()
                sums.deallocate()
            }
            for i in 0..<m { a.prepareMatvec(xp + i * kk, xs: xs + i * kk, sums: sums + i * groups) }
            forRowBlocks(n, bytesPerRow: a.packedRowBytes) { rows in
                for i in 0..<m {
                    a.matvec(rows: rows, xs: xs + i * kk, sums: sums + i * groups, into: dst + i * n)
                }
            }
        } else if m <= 4, let d = deq as? DenseRows, d.dtype == .bf16 {
            // BF16 weights widened in registers by CKernels' vector loop: half the bytes of
            // F32 per step, nothing widened in memory.
            forRowBlocks(n, bytesPerRow: d.bytesPerRow) { rows in
                for i in 0..<m { d.matvecBF16(rows: rows, xp + i * kk, into: dst + i * n) }
            }
        } else if m <= 4 {
            parallelRanges(n, threads: threads, minimumPerRange: 16) { r in
                let row = UnsafeMutablePointer<Float>.allocate(capacity: kk)
                defer { row.deallocate() }
                for j in r {
                    for i in 0..<m { dst[i * n + j] = deq.dot(row: j, xp + i * kk, scratch: row) }
                }
            }
        } else if options.bf16Products, let d = deq as? DenseRows, d.dtype == .bf16,
            ck_bf16_gemm_available() != 0
        {
            // x rounded to bfloat16 once, then VDPBF16PS against W where it lies; blocks of
            // 12 rows of W (the kernel's width) split among the threads.
            // q, k and v (gate and up) read the same input: it is packed once.
            let input = ObjectIdentifier(node.inputs[0])
            let packed: UnsafeMutablePointer<UInt32>
            if let p = bf16Packed, p.input == input, p.rows == m, p.columns == kk {
                packed = p.words
            } else {
                let p = BF16PackedInput(input: input, rows: m, columns: kk)
                ck_bf16_gemm_pack(xp, kk, m, kk, p.words)
                bf16Packed = p
                packed = p.words
            }
            let blocks = (n + 11) / 12
            parallelRanges(blocks, threads: threads) { r in
                ck_bf16_gemm(
                    packed, m, kk, d.bytes.raw.baseAddress, 12 * r.lowerBound,
                    Swift.min(n, 12 * r.upperBound), dst, n)
            }
        } else {
            // Rows decoded per sgemm: whole layer matrices (up to 4 MiB of floats), so a
            // prefill makes one sgemm per weight rather than alternating BLAS and decode
            // threads every 128 rows.
            let block = Swift.max(128, Swift.min(n, (4 << 20) / (4 * Swift.max(kk, 1))))
            let tile = UnsafeMutablePointer<Float>.allocate(capacity: block * kk)
            defer { tile.deallocate() }
            var n0 = 0
            while n0 < n {
                let nb = Swift.min(block, n - n0)
                let start = n0
                parallelRanges(nb, threads: threads, minimumPerRange: 8) { r in
                    for j in r { deq.dequantize(row: start + j, into: tile + j * kk) }
                }
                cblas_sgemm(
                    CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(nb), Int32(kk), 1,
                    xp, Int32(kk), tile, Int32(kk), 0, dst + n0, Int32(n))
                n0 += nb
            }
        }
        return finish(out)
    }

    /// Decodes only the table rows named by `ids`, straight into the output.
    mutating func quantizedEmbedding(_ ids0: Value, _ w: QuantizedWeight, _ node: Node)
        throws(ComputeError) -> Value
    {
        let ids = materialize(ids0)
        let rows = w.rows, cols = w.columns, count = ids.count
        for i in 0..<count where ids.ints[i] < 0 || Int(ids.ints[i]) >= rows {
            throw ComputeError(
                .index("id \(ids.ints[i]) out of range for \(rows) rows"), op: "quantized_embedding"
            )
        }
        let out = allocate(node.shape, node.dtype)
        launched(reading: [ids], writing: out.count)
        stats.bytesRead += count * w.dequantizer.bytesPerRow
        let deq = w.dequantizer, ip = ids.ints, dst = out.floats
        parallelRanges(count, threads: threads, minimumPerRange: 4) { r in
            for i in r { deq.dequantize(row: Int(ip[i]), into: dst + i * cols) }
        }
        return out
    }
}

/// The bfloat16 packing of a matrix product's input, kept for the next product that reads the
/// same node (a graph node lives as long as the eval, so its identity cannot be reused).
final class BF16PackedInput {
    let input: ObjectIdentifier
    let rows: Int
    let columns: Int
    let words: UnsafeMutablePointer<UInt32>

    init(input: ObjectIdentifier, rows: Int, columns: Int) {
        self.input = input
        self.rows = rows
        self.columns = columns
        words = .allocate(capacity: Swift.max(ck_bf16_gemm_packed_size(rows, columns), 1))
    }

    deinit { words.deallocate() }
}

// compute-bench: the engine's performance figures of issue 5, as JSON lines on stdout.
//
//   gemm        engine F32 matmul vs cblas_sgemm called directly (512 … 4096)
//   fusion      RMSNorm + SiLU-gate chain, fused vs one kernel per op
//               (fusion-profile: the fused evals alone, to profile)
//   q4_matvec   4-bit affine matrix-vector product: GB/s over the packed bytes, vs memcpy
//   llama_block a LLaMA block (SmolLM2-135M sizes), 128 tokens, 2 threads (torch: peers.py)
//
// Ratios are measured in the same run. Build in release: `make bench`.
import COpenBLAS
import Compute
import Dispatch
import Formats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Best wall time of `body` over `repeats` runs (after one warm-up).
func best(_ repeats: Int, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var b = Double.infinity
    for _ in 0..<repeats {
        let t0 = now()
        try body()
        b = min(b, now() - t0)
    }
    return b
}

func line(_ fields: [(String, Any)]) {
    let parts = fields.map { k, v -> String in
        switch v {
        case let s as String: "\"\(k)\": \"\(s)\""
        case let d as Double where k == "checksum": "\"\(k)\": \(d)"
        case let d as Double: "\"\(k)\": \((d * 1e4).rounded() / 1e4)"
        default: "\"\(k)\": \(v)"
        }
    }
    print("{" + parts.joined(separator: ", ") + "}")
}

func random(_ n: Int, seed: UInt64) -> [Float] {
    var s = seed
    return (0..<n).map { _ in
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int(truncatingIfNeeded: s >> 40) % 2001 - 1000) / 1000
    }
}

func gemm() throws {
    for n in [512, 1024, 2048, 4096] {
        let av = random(n * n, seed: 1), bv = random(n * n, seed: 2)
        let a = try Tensor(av, shape: [n, n]), b = try Tensor(bv, shape: [n, n])
        let y = try a.matmul(b)
        let reps = n >= 4096 ? 3 : 5
        let engine = try best(reps) { _ = try eval([y]) }
        var c = [Float](repeating: 0, count: n * n)
        let direct = best(reps) {
            av.withUnsafeBufferPointer { ap in
                bv.withUnsafeBufferPointer { bp in
                    c.withUnsafeMutableBufferPointer { cp in
                        cblas_sgemm(
                            CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n),
                            1, ap.baseAddress, Int32(n), bp.baseAddress, Int32(n), 0,
                            cp.baseAddress, Int32(n))
                    }
                }
            }
        }
        line([
            ("bench", "gemm"), ("n", n), ("engine_s", engine), ("cblas_s", direct),
            ("gflops", 2 * Double(n * n) * Double(n) / engine / 1e9), ("ratio", direct / engine),
        ])
    }
}

func fusion() throws {
    for (rows, dim) in [(512, 4096), (2048, 4096)] {
        let x = try Tensor(random(rows * dim, seed: 3), shape: [rows, dim])
        let u = try Tensor(random(rows * dim, seed: 4), shape: [rows, dim])
        let w = try Tensor(random(dim, seed: 5), shape: [dim])
        let ms = try (x * x).mean(axes: [-1], keepDims: true)
        let h = try x * (try (ms + 1e-5).rsqrt()) * w
        let y = try h.silu() * u
        let fusedStats = try eval([y]).stats
        let unfusedStats = try eval([y], options: EvalOptions(fusion: false)).stats
        // Warm-up of both (the thread pool, buffers parked in the cache), then best of 20
        // each (a shared, noisy machine).
        for _ in 0..<10 {
            _ = try eval([y])
            _ = try eval([y], options: EvalOptions(fusion: false))
        }
        let fused = try best(20) { _ = try eval([y]) }
        let unfused = try best(20) { _ = try eval([y], options: EvalOptions(fusion: false)) }
        line([
            ("bench", "fusion"), ("shape", "\(rows)x\(dim)"), ("fused_s", fused),
            ("unfused_s", unfused), ("fused_us", fused * 1e6), ("unfused_us", unfused * 1e6),
            ("fused_kernels", fusedStats.kernels), ("unfused_kernels", unfusedStats.kernels),
            ("fused_bytes", fusedStats.bytesMoved), ("unfused_bytes", unfusedStats.bytesMoved),
            ("fused_cached_bytes", fusedStats.cachedBytesRead),
            ("speedup", unfused / fused),
        ])
    }
}

func q4Matvec() throws {
    let (rows, cols, group) = (16384, 8192, 64)
    let packedBytes = rows * cols / 2
    let groups = rows * cols / group
    let packed = ByteBuffer(
        copying: (0..<packedBytes).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) })
    let scales = ByteBuffer(copying: (0..<(2 * groups)).map { $0 % 2 == 0 ? 0 : 0x1c })
    let biases = ByteBuffer(copying: (0..<(2 * groups)).map { $0 % 2 == 0 ? 0 : 0x9c })
    let w = try QuantizedWeight.affine(
        packed: packed.all, scales: scales.all, biases: biases.all, scaleDType: .f16,
        rows: rows, columns: cols, bits: 4, groupSize: group)
    let x = try Tensor(random(cols, seed: 6), shape: [1, cols])
    let y = try x.quantizedMatmul(w)
    let total = Double(packedBytes + 4 * groups)
    let t = try best(5) { _ = try eval([y]) }
    // Bandwidth: memcpy of 256 MiB (far beyond the caches) on every core, as CkptBench
    // measures it, counting bytes read (as for the matvec). The copies go through opaque
    // closures into a buffer read afterwards, so the compiler cannot drop them.
    let n = 256 << 20
    let src = UnsafeMutableRawPointer.allocate(byteCount: n, alignment: 64)
    let dst = UnsafeMutableRawPointer.allocate(byteCount: n, alignment: 64)
    memset(src, 1, n)
    memset(dst, 0, n)
    let workers = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    let (s0, d0) = (Int(bitPattern: src), Int(bitPattern: dst))
    let copy = best(5) {
        DispatchQueue.concurrentPerform(iterations: workers) { k in
            let lo = n * k / workers, hi = n * (k + 1) / workers
            guard let d = UnsafeMutableRawPointer(bitPattern: d0 + lo),
                let s = UnsafeRawPointer(bitPattern: s0 + lo)
            else { return }
            memcpy(d, s, hi - lo)
        }
    }
    var check = 0
    for i in stride(from: 0, to: n, by: 4096) { check &+= Int(dst.load(fromByteOffset: i, as: UInt8.self)) }
    precondition(check == n / 4096, "memcpy did not copy")
    src.deallocate()
    dst.deallocate()
    let gbs = total / t / 1e9, memGBs = Double(n) / copy / 1e9
    line([
        ("bench", "q4_matvec"), ("rows", rows), ("cols", cols), ("seconds", t),
        ("packed_gb_s", gbs),
        ("memcpy_read_gb_s", memGBs), ("ratio", gbs / memGBs),
    ])
}

/// A LLaMA-style block (SmolLM2-135M sizes: hidden 576, 9 heads, 3 kv heads, ffn 1536),
/// 128 tokens, on 2 threads (engine and OpenBLAS), as the torch comparison asks.
func block() throws {
    let (hidden, heads, kv, ffn, t) = (576, 9, 3, 1536, 128)
    let hd = hidden / heads
    func w(_ r: Int, _ c: Int, _ seed: UInt64) throws -> Tensor {
        try Tensor(random(r * c, seed: seed).map { $0 * 0.04 }, shape: [r, c])
    }
    let wq = try w(hidden, hidden, 1), wk = try w(kv * hd, hidden, 2),
        wv = try w(kv * hd, hidden, 3)
    let wo = try w(hidden, hidden, 4), w1 = try w(ffn, hidden, 5), w3 = try w(ffn, hidden, 6)
    let w2 = try w(hidden, ffn, 7)
    let n1 = try Tensor([Float](repeating: 1, count: hidden), shape: [hidden])
    let x = try Tensor(random(t * hidden, seed: 8), shape: [t, hidden])
    let h = try x.rmsNorm(weight: n1, eps: 1e-5)
    func project(_ m: Tensor, _ n: Int) throws -> Tensor {
        try h.matmul(try m.transposed()).reshape([1, t, n, hd]).transposed([0, 2, 1, 3])
    }
    let q = try project(wq, heads).rope(layout: .halfSplit)
    let k = try project(wk, kv).rope(layout: .halfSplit)
    let v = try project(wv, kv)
    let a = try Tensor.attention(q: q, k: k, v: v, causal: true)
    let x2 =
        try x + (try a.transposed([0, 2, 1, 3]).reshape([t, hidden]).matmul(try wo.transposed()))
    let m = try x2.rmsNorm(weight: n1, eps: 1e-5)
    let gate = try m.matmul(try w1.transposed()).silu() * m.matmul(try w3.transposed())
    let y = try x2 + gate.matmul(try w2.transposed())
    openblas_set_num_threads(2)
    let opts = EvalOptions(threads: 2)
    let first = try eval([y], options: opts)
    let stats = first.stats
    // The sum of the output, to compare with peers.py torch-block's (same weights and input).
    let checksum = first.arrays[0].floats.reduce(0.0) { $0 + Double($1) }
    let seconds = try best(10) { _ = try eval([y], options: opts) }
    openblas_set_num_threads(Int32(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    line([
        ("bench", "llama_block"), ("hidden", hidden), ("tokens", t), ("threads", 2),
        ("seconds", seconds),
        ("kernels", stats.kernels), ("peak_bytes", stats.peakBytes),
        ("allocated_bytes", stats.allocatedBytes), ("checksum", checksum),
    ])
}

/// Only the fused RMSNorm + SiLU-gate evals, for `perf record` (no unfused runs mixed in).
func fusionProfile() throws {
    let (rows, dim) = (512, 4096)
    let x = try Tensor(random(rows * dim, seed: 3), shape: [rows, dim])
    let u = try Tensor(random(rows * dim, seed: 4), shape: [rows, dim])
    let w = try Tensor(random(dim, seed: 5), shape: [dim])
    let ms = try (x * x).mean(axes: [-1], keepDims: true)
    let y = try (x * (try (ms + 1e-5).rsqrt()) * w).silu() * u
    let t = try best(2000) { _ = try eval([y]) }
    line([("bench", "fusion_profile"), ("shape", "\(rows)x\(dim)"), ("fused_us", t * 1e6)])
}

let which = CommandLine.arguments.dropFirst()
do {
    if which.contains("fusion-profile") { try fusionProfile() }
    if which.isEmpty || which.contains("gemm") { try gemm() }
    if which.isEmpty || which.contains("fusion") { try fusion() }
    if which.isEmpty || which.contains("q4") { try q4Matvec() }
    if which.isEmpty || which.contains("block") { try block() }
} catch {
    print("error: \(error)")
    exit(2)
}

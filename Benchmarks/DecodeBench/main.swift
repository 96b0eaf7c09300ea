// decode-bench: issue 6's performance figures for ckpt's side, as JSON lines on stdout.
//
//   decode-bench speed NAME MODEL [THREADS]
//       prefill of 128 tokens, then 32 greedy one-token steps over the KV cache
//       (DecodingSession), tokens/s, best of 2 after a warm-up (peers.py torch-decode /
//       mlx-decode time the same thing).
//   decode-bench memory NAME MODEL
//       one forward of 128 tokens in a fresh process: peak RSS growth (getrusage) against
//       the packed weights' bytes plus the eval's peak of live buffers (activations).
//
// Build in release: `swift build -c release --product decode-bench` (make bench does).
import COpenBLAS
import Compute
import Formats
import Verify

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

let promptLength = 128
let decodeSteps = 32

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

func line(_ fields: [(String, Any)]) {
    let parts = fields.map { k, v -> String in
        switch v {
        case let s as String: "\"\(k)\": \"\(s)\""
        case let d as Double: "\"\(k)\": \((d * 1e4).rounded() / 1e4)"
        default: "\"\(k)\": \(v)"
        }
    }
    print("{" + parts.joined(separator: ", ") + "}")
}

/// The prompt peers.py uses too: (7919·i + 13) mod vocab.
func prompt(_ vocab: Int) -> [Int32] {
    (0..<promptLength).map { Int32((7919 * $0 + 13) % vocab) }
}

/// Resident set size now, from /proc/self/statm (pages).
func currentRSS() -> Int {
    guard let f = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(f) }
    var buffer = [CChar](repeating: 0, count: 256)
    guard fgets(&buffer, 256, f) != nil else { return 0 }
    let fields = String(
        decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self
    )
    .split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * sysconf(Int32(_SC_PAGESIZE))
}

func peakRSS() -> Int {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    return u.ru_maxrss * 1024
}

func load(_ path: String) throws -> LlamaModel {
    guard let m = try ModelRegistry.load(path: path) as? LlamaModel else {
        fatalError("\(path) is not a LLaMA-family model")
    }
    return m
}

/// `bf16Products`: BF16 weights' products round activations to bfloat16 (torch's and MLX's
/// arithmetic for a bfloat16 model); the name then ends in `_bf16products`.
func speed(name: String, path: String, threads: Int, bf16Products: Bool = false) throws {
    openblas_set_num_threads(Int32(threads))
    let model = try load(path)
    let session = try DecodingSession(
        model: model, maxLength: promptLength + decodeSteps + 1,
        options: EvalOptions(threads: threads, bf16Products: bf16Products))
    let ids = prompt(model.vocabularySize)
    var bestPrefill = Double.infinity, bestDecode = Double.infinity
    var sectionTimes: [Double] = []
    for run in 0..<3 {
        session.reset()
        let t0 = now()
        var next = DecodingSession.argmax(try session.prefill(ids))
        let t1 = now()
        for _ in 0..<decodeSteps {
            let s = now()
            next = DecodingSession.argmax(try session.step(next))
            if run == 2 { sectionTimes.append(now() - s) }
        }
        let t2 = now()
        if run > 0 {
            bestPrefill = min(bestPrefill, t1 - t0)
            bestDecode = min(bestDecode, t2 - t1)
        }
    }
    line([
        ("bench", "ckpt_decode_\(name)\(bf16Products ? "_bf16products" : "")"), ("threads", threads),
        ("prefill_tokens_per_second", Double(promptLength) / bestPrefill),
        ("decode_tokens_per_second", Double(decodeSteps) / bestDecode),
        ("first_step_ms", (sectionTimes.first ?? 0) * 1e3),
        ("last_step_ms", (sectionTimes.last ?? 0) * 1e3),
    ])
}

func memory(name: String, path: String) throws {
    let before = currentRSS()
    let source = try Checkpoint.open(path)
    let packed = source.tensors.reduce(0) { $0 + $1.byteCount }
    let model = try LlamaModel(source: source, file: path)
    let out = try model.forward(tokens: prompt(model.vocabularySize))
    let e = try eval([out])
    let grown = peakRSS() - before
    let budget = packed + e.stats.peakBytes
    line([
        ("bench", "ckpt_forward_memory_\(name)"), ("tokens", promptLength),
        ("peak_rss_growth", grown), ("packed_weight_bytes", packed),
        ("activation_peak_bytes", e.stats.peakBytes),
        ("ratio", Double(grown) / Double(budget)),
    ])
}

/// A line on standard error.
func warn(_ message: String) {
    let bytes = Array((message + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

let args = CommandLine.arguments
guard args.count >= 4 else {
    warn("usage: decode-bench speed|memory NAME MODEL [THREADS] [--bf16-products]")
    exit(64)
}
do {
    switch args[1] {
    case "speed":
        try speed(
            name: args[2], path: args[3], threads: args.count > 4 ? Int(args[4]) ?? 2 : 2,
            bf16Products: args.contains("--bf16-products"))
    case "memory": try memory(name: args[2], path: args[3])
    default:
        warn("unknown mode \(args[1])")
        exit(64)
    }
} catch {
    warn("decode-bench: \(error)")
    exit(1)
}

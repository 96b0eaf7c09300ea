// ckpt's benchmarks: each figure is a ratio against a peer or the machine, measured in the
// same run (`make bench`). Peers in Python are timed by Benchmarks/peers.py; this program
// prints one JSON object per line for the report script to combine.
import CKernels
import Convert
import Dispatch
import Formats
import BenchSupport
import Foundation
import Quantize




func run(big: String, work: String, only: String?) throws {


// 1. Opening: O(header), whatever the file size.
let opens = Int(ProcessInfo.processInfo.environment["CKPT_BENCH_OPENS"] ?? "") ?? 200
// Opening alone validates the whole header (the tensors are built on first use); opening and
// listing builds them too, as Python's `safe_open` + `keys()` builds its list of names.
let tOpen = try best(3) {
    for _ in 0..<opens { _ = try SafetensorsFile(path: big) }
} / Double(opens)
var listed = 0
let tOpenList = try best(3) {
    for _ in 0..<opens { listed &+= try SafetensorsFile(path: big).tensors.count }
} / Double(opens)
emit("safetensors_open", ["seconds_per_open": tOpen, "seconds_per_open_and_list": tOpenList])
if only == "open" { return }

// 2. Memory-copy bandwidth of this machine (1 GiB, both cores as the pipeline uses them).
let size = 1 << 30
let a = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
let b = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
memset(a, 1, size); memset(b, 2, size)
let workers = ProcessInfo.processInfo.activeProcessorCount
// Addresses as integers: each worker copies its own disjoint range.
let (src, dst) = (Int(bitPattern: a), Int(bitPattern: b))
let tCopy = best(3) {
    DispatchQueue.concurrentPerform(iterations: workers) { k in
        let lo = size * k / workers, hi = size * (k + 1) / workers
        guard let d = UnsafeMutableRawPointer(bitPattern: dst + lo),
            let s = UnsafeRawPointer(bitPattern: src + lo)
        else { return }
        memcpy(d, s, hi - lo)
    }
}
a.deallocate(); b.deallocate()
let copyBandwidth = Double(size) / tCopy
emit("memcpy", ["bytes_per_second": copyBandwidth])

// 3. Reading every tensor of the file (touching every byte).
if only != "convert" {
let source = try SafetensorsFile(path: big)
let total = source.totalBytes
var sink: UInt64 = 0
let tRead = try best(3) {
    var acc: UInt64 = 0
    for t in source.tensors {
        let s = try source.bytes(of: t)
        let words = s.count / 8
        guard let base = s.raw.baseAddress else { continue }
        let p = base.assumingMemoryBound(to: UInt64.self)
        // Two accumulators keep the loop bandwidth-bound rather than latency-bound.
        var x: UInt64 = 0, y: UInt64 = 0
        var i = 0
        while i + 1 < words { x &+= p[i]; y &+= p[i + 1]; i += 2 }
        acc &+= x &+ y
    }
    sink &+= acc
}
emit("read_all_tensors", ["bytes_per_second": Double(total) / tRead, "ratio_to_memcpy": (Double(total) / tRead) / copyBandwidth])
FileHandle.standardError.write(Data("checksum \(sink)\n".utf8))
}
let total = try SafetensorsFile(path: big).totalBytes

// 4. The floor under any conversion into a new file: writing that many bytes (here half of
// the input, a BF16/F16 output's size) into a new file through the page cache, from one
// small cache-resident buffer, with nothing to convert (blocks reserved first, as the writers do).
let outputBytes = total / 2
let chunk = 1 << 20
let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 64)
memset(buffer, 0x3c, chunk)
let floorPath = "\(work)/bench-write-floor.bin"
let tWrite = best(2) {
    let fd = open(floorPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return }
    // Reserved first, as OutputFile.preallocate does for every planned output.
    _ = ck_reserve_file(fd, Int64(outputBytes))
    var at = 0
    while at < outputBytes {
        let n = pwrite(fd, buffer, min(chunk, outputBytes - at), off_t(at))
        if n <= 0 { break }
        at += n
    }
    close(fd)
    unlink(floorPath)
}
buffer.deallocate()
emit("write_new_file", ["bytes_per_second": Double(outputBytes) / tWrite, "seconds": tWrite])

// 5. Converting F32 → BF16 and F32 → F16 into a new file.
for dtype in [DType.bf16, .f16] {
    let dst = "\(work)/bench-\(dtype.rawValue).safetensors"
    let tConv = try best(2) {
        _ = try Converter.convert(ConversionRequest(source: big, destination: dst, dtype: dtype))
    }
    // Bandwidth counted over bytes read plus bytes written, as memcpy's is over the bytes copied.
    let moved = Double(total) * 1.5
    emit("convert_f32_to_\(dtype.rawValue.lowercased())", [
        "seconds": tConv, "input_bytes_per_second": Double(total) / tConv,
        "ratio_to_memcpy": (moved / tConv) / (2 * copyBandwidth),
    ])
    try? FileManager.default.removeItem(atPath: dst)
}
}

let args = CommandLine.arguments
guard args.count >= 3 else {
    FileHandle.standardError.write(Data("usage: ckpt-bench BIG.safetensors WORKDIR\n".utf8))
    exit(64)
}
try run(big: args[1], work: args[2], only: args.count > 3 ? args[3] : nil)

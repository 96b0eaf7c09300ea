// The catalog's figures for `make bench` (issue 4): listing 10,000 entries, and hashing speed
// next to coreutils' sha256sum on the same file (timed by scripts/bench.sh in the same run).
import Catalog
import Dispatch
import Formats
import BenchSupport
import Foundation


/// User + system CPU seconds of this process: on a shared machine, wall time also counts
/// the time other processes held the cores.
func cpu() -> Double {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return s(u.ru_utime) + s(u.ru_stime)
}


/// A one-tensor checkpoint description, so that 10,000 entries need no real model files.
struct TinySource: TensorSource {
    var format: CheckpointFormat { .safetensors }
    var metadata: Metadata { [:] }
    var tensors: [TensorInfo] {
        [TensorInfo(name: "w", type: .dense(.f32), shape: [4, 4], byteCount: 64)]
    }
    func bytes(of tensor: TensorInfo) throws(FormatError) -> ByteSlice {
        ByteBuffer(copying: [UInt8](repeating: 0, count: 64)).all
    }
}

func run(big: String, work: String) throws {
    // Hashing a large file (streaming SHA-256, SHA-NI through swift-crypto).
    let size = Double(FileStat(path: big)?.size ?? 0)
    var best = Double.infinity
    for _ in 0..<2 {
        let t = now()
        _ = try FileHasher.sha256(path: big)
        best = min(best, now() - t)
    }
    emit("catalog_sha256", ["bytes_per_second": size / best, "seconds": best])

    // 10,000 entries, then `list`.
    let dir = work + "/catalog-bench"
    try? FileManager.default.removeItem(atPath: dir)
    try FileManager.default.createDirectory(atPath: dir + "/files", withIntermediateDirectories: true)
    let catalog = try Catalog(path: dir + "/catalog.sqlite")
    let count = 10_000
    // The files first: FileManager.createFile writes atomically (temp file, fsync, rename),
    // which took most of the time when it was inside the timed loop.
    let paths = (0..<count).map { dir + "/files/m\($0).safetensors" }
    for (i, p) in paths.enumerated() {
        guard FileManager.default.createFile(
            atPath: p, contents: Data(repeating: UInt8(i & 0xFF), count: 64))
        else { fatalError("cannot create \(p)") }
    }
    let t0 = now()
    let c0 = cpu()
    for p in paths { try catalog.register(path: p, source: TinySource()) }
    emit("catalog_register", [
        "entries": Double(count), "seconds": now() - t0, "cpu_seconds": cpu() - c0,
    ])
    var listBest = Double.infinity
    var listCPU = Double.infinity
    for _ in 0..<5 {
        let t = now()
        let c = cpu()
        let entries = try catalog.list()
        let json = MetadataValue.array(entries.map(\.json)).jsonString()
        precondition(entries.count == count && !json.isEmpty)
        listBest = min(listBest, now() - t)
        listCPU = min(listCPU, cpu() - c)
    }
    emit("catalog_list_10k", ["seconds": listBest, "cpu_seconds": listCPU])
    try? FileManager.default.removeItem(atPath: dir)
}

let args = CommandLine.arguments
try run(big: args.count > 1 ? args[1] : "", work: args.count > 2 ? args[2] : NSTemporaryDirectory())

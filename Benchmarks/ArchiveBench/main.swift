// archive-bench FILE... WORKDIR: packs each file into a .ckz (zstd level 3, all cores) and
// unpacks it again; prints ratio and speeds, one JSON line per file, plus each byte plane's
// ratio. Peers (ZipNN on 2 threads, zstd -3) are timed by Benchmarks/peers.py on the same files.
import Archive
import BenchSupport
import Foundation

let args = Array(CommandLine.arguments.dropFirst())
guard args.count >= 2 else {
    FileHandle.standardError.write(Data("usage: archive-bench FILE... WORKDIR\n".utf8))
    exit(64)
}
let work = args[args.count - 1]
let level = Int(ProcessInfo.processInfo.environment["CKZ_LEVEL"] ?? "") ?? 3
for file in args.dropLast() {
    let name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
    let archive = "\(work)/\(name).ckz"
    let restored = "\(work)/\(name).restored"
    var summary: PackSummary?
    let packSeconds = try best(3) {
        try? FileManager.default.removeItem(atPath: archive)
        summary = try ArchiveWriter(level: level).pack(file, to: archive)
    }
    let reader = try ArchiveReader(path: archive)
    let unpackSeconds = try best(3) {
        try? FileManager.default.removeItem(atPath: restored)
        try reader.extract(to: restored)
    }
    // Archive → memory (what ZipNN's decompress does: bytes to bytes, no file written).
    let decodeSeconds = try best(3) { _ = try reader.read(file: 0) }
    let same = FileManager.default.contentsEqual(atPath: file, andPath: restored)
    try? FileManager.default.removeItem(atPath: restored)
    guard let s = summary else { continue }
    var fields: [String: Double] = [
        "ratio": s.ratio, "source_bytes": Double(s.sourceBytes),
        "archive_bytes": Double(s.archiveBytes),
        "compress_seconds": packSeconds, "decompress_seconds": unpackSeconds,
        "compress_bytes_per_second": Double(s.sourceBytes) / packSeconds,
        "decompress_bytes_per_second": Double(s.sourceBytes) / unpackSeconds,
        "decode_memory_seconds": decodeSeconds,
        "decode_memory_bytes_per_second": Double(s.sourceBytes) / decodeSeconds,
        "identical": same ? 1 : 0,
    ]
    for (width, planes) in s.planes {
        for k in planes.indices {
            fields["plane_w\(width)_b\(k)_ratio"] = s.planeRatio(width: width, plane: k) ?? 0
        }
    }
    emit("ckz_\(name)", fields)
}

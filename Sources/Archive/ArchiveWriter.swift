import Dispatch
import Formats
import Foundation

/// Packs a checkpoint file or a whole directory into one archive (`ckpt pack`).
///
/// Plans first (every file's tensor byte ranges, every chunk), then compresses batches of
/// chunks on all cores and appends them in order, then writes the index and renames the
/// finished archive into place. Memory stays near one batch of chunks; sources are mapped.
///
/// ```swift
/// let summary = try ArchiveWriter(level: 3).pack("model-dir", to: "model.ckz")
/// print(summary.ratio)
/// ```
public struct ArchiveWriter: Sendable {
    /// zstd compression level (zstd's own range, 1…22; negative levels are faster).
    public var level: Int
    /// Chunks compressed in parallel per batch (bounds memory: about 2 × 4 MiB each).
    public var batchSize: Int

    /// - Parameter level: zstd level; 3 is zstd's default and the `--level` default.
    public init(level: Int = 3, batchSize: Int = 4 * ProcessInfo.processInfo.activeProcessorCount) {
        self.level = level
        self.batchSize = max(1, batchSize)
    }

    /// One planned chunk: a range of a source file and how to encode it.
    struct PlannedChunk {
        var file: Int
        var offset: Int
        var size: Int
        var width: Int  // 1: zstd as is; 2/4/8: byte planes
        var isTensorData: Bool
    }

    /// Packs `source` (a file or a directory) into the archive `destination`.
    ///
    /// - Throws: `FormatError` when a source cannot be read or the archive cannot be written;
    ///   nothing is left at `destination` then.
    public func pack(_ source: String, to destination: String) throws(FormatError) -> PackSummary {
        let isDirectory = Self.isDirectory(source)
        let relative: [String]
        if isDirectory {
            relative = try Self.listFiles(source)
        } else {
            let name = source.split(separator: "/").last.map(String.init) ?? source
            relative = [name]
        }
        var buffers: [ByteBuffer] = []
        var files: [ArchivedFile] = []
        var plan: [PlannedChunk] = []
        for (i, rel) in relative.enumerated() {
            let path = isDirectory ? source + "/" + rel : source
            let buffer = try ByteBuffer(mapping: path)
            let (regions, isCheckpoint) = Self.regions(of: buffer)
            let first = plan.count
            for r in regions {
                var at = r.range.lowerBound
                while at < r.range.upperBound {
                    let n = min(Archive.maxChunkSize, r.range.upperBound - at)
                    plan.append(
                        PlannedChunk(
                            file: i, offset: at, size: n, width: r.width, isTensorData: r.isTensor))
                    at += n
                }
            }
            files.append(
                ArchivedFile(
                    path: rel, size: buffer.count, isCheckpoint: isCheckpoint,
                    chunks: first..<plan.count))
            buffers.append(buffer)
        }

        let out = try OutputFile(path: destination)
        try out.writeZeros(Archive.headerSize)
        var chunks: [ChunkEntry] = []
        chunks.reserveCapacity(plan.count)
        var summary = PackSummary(files: files.count)
        let pool = CoderPool(workers: ProcessInfo.processInfo.activeProcessorCount, level: level)
        var start = 0
        while start < plan.count {
            let batch = Array(plan[start..<min(plan.count, start + batchSize)])
            let results = encode(batch, buffers: buffers, pool: pool)
            for (p, r) in zip(batch, results) {
                chunks.append(
                    ChunkEntry(
                        codec: r.codec, width: r.codec == .planes ? p.width : 1,
                        isTensorData: p.isTensorData, rawSize: p.size, payloadOffset: out.position,
                        payloadSize: r.payload.count, crc: r.crc, file: p.file, fileOffset: p.offset
                    ))
                try out.write(r.payload)
                summary.add(p, r)
            }
            for p in batch { try buffers[p.file].all.slice(p.offset, p.size).evict() }
            start += batch.count
        }
        let index = ArchiveIndex(isDirectory: isDirectory, files: files, chunks: chunks)
        let indexOffset = out.position
        let bytes = index.serialized()
        try out.write(bytes)
        summary.archiveBytes = out.position
        let header = index.header(indexOffset: indexOffset, indexSize: bytes.count)
        try header.withUnsafeBytes { b in
            Result { () throws(FormatError) in try out.write(b, at: 0) }
        }.get()
        try out.commit()
        return summary
    }

    struct Encoded: Sendable {
        var codec: ChunkCodec
        var payload: [UInt8]
        var crc: UInt32
        var planes: [PlaneSize]
    }

    /// Encodes a batch of chunks on all cores (one coder, i.e. zstd context, per worker).
    private func encode(
        _ batch: [PlannedChunk], buffers: [ByteBuffer], pool: CoderPool
    ) -> [Encoded] {
        final class Slots: @unchecked Sendable {
            // Each iteration writes only its own index; read after concurrentPerform returns.
            var items: [Encoded?]
            init(_ n: Int) { items = Array(repeating: nil, count: n) }
        }
        let slots = Slots(batch.count)
        let workers = min(batch.count, pool.coders.count)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let coder = pool.coders[w]
            var i = w
            while i < batch.count {
                let p = batch[i]
                let raw = UnsafeRawBufferPointer(
                    rebasing: buffers[p.file].all.raw[p.offset..<(p.offset + p.size)])
                let (codec, payload) = coder.encode(
                    raw, codec: p.width > 1 ? .planes : .zstd, width: p.width)
                let planes = coder.lastPlaneSizes.map {
                    PlaneSize(raw: $0.raw, encoded: $0.encoded)
                }
                slots.items[i] = Encoded(
                    codec: codec, payload: payload, crc: ChunkCoder.crc32(raw), planes: planes)
                i += workers
            }
        }
        return slots.items.map { $0.unsafelyUnwrapped }
    }

    /// The file's byte ranges in order, covering it: floating tensors stored dense
    /// little-endian become plane regions, other tensors plain tensor regions, the rest
    /// (headers, padding) plain non-tensor regions. Not a checkpoint: one plain region.
    static func regions(of buffer: ByteBuffer) -> (
        [(range: Range<Int>, width: Int, isTensor: Bool)], Bool
    ) {
        var tensorRanges: [(Range<Int>, Int)] = []
        var isCheckpoint = false
        if let source = try? Checkpoint.open(buffer) {
            isCheckpoint = true
            for t in source.tensors {
                guard t.location.strides == nil, !t.location.bigEndian,
                    let slice = try? source.bytes(of: t), slice.buffer === buffer, slice.count > 0
                else { continue }
                tensorRanges.append(
                    (slice.offset..<(slice.offset + slice.count), planeWidth(t.type)))
            }
        }
        tensorRanges.sort { $0.0.lowerBound < $1.0.lowerBound }
        var out: [(range: Range<Int>, width: Int, isTensor: Bool)] = []
        var at = 0
        for (r, w) in tensorRanges where r.lowerBound >= at {  // overlapping views: first wins
            if r.lowerBound > at { out.append((at..<r.lowerBound, 1, false)) }
            let width = r.count % w == 0 ? w : 1
            out.append((r, width, true))
            at = r.upperBound
        }
        if at < buffer.count { out.append((at..<buffer.count, 1, false)) }
        return (out, isCheckpoint)
    }

    /// Element width to split into planes: F16/BF16 2, F32 4, F64 8; 1 (no split) otherwise,
    /// including 1-byte FP8, whose single plane is the chunk itself.
    static func planeWidth(_ type: TensorType) -> Int {
        guard let d = type.dense, d.isFloatingPoint, let size = d.byteSize, d != .c64 else {
            return 1
        }
        return [2, 4, 8].contains(size) ? size : 1
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    /// Every regular file under `root` (symbolic links followed), relative, sorted.
    static func listFiles(_ root: String) throws(FormatError) -> [String] {
        guard let all = try? FileManager.default.subpathsOfDirectory(atPath: root) else {
            throw FormatError(.io("cannot list directory"), file: root)
        }
        return all.filter { rel in
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: root + "/" + rel, isDirectory: &isDir)
                && !isDir.boolValue
        }.sorted()
    }
}

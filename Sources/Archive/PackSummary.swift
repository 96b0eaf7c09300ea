/// Raw and encoded bytes of one byte plane of one chunk.
public struct PlaneSize: Sendable, Hashable {
    public var raw: Int
    public var encoded: Int
}

/// What `ArchiveWriter.pack` did: sizes, chunks by codec, and how well each byte plane
/// compressed (so the planes' value can be measured, not assumed).
public struct PackSummary: Sendable {
    /// Files packed.
    public var files: Int
    /// Bytes of all source files.
    public var sourceBytes = 0
    /// Bytes of the finished archive.
    public var archiveBytes = 0
    /// Chunks per codec actually used (`stored` when zstd did not shrink one).
    public var chunksByCodec: [ChunkCodec: Int] = [:]
    /// Per element width (2, 4, 8) and plane (0 = lowest byte): raw and encoded bytes.
    public var planes: [Int: [PlaneSize]] = [:]
    /// Raw and encoded bytes of the chunks that were not split into planes.
    public var plain = PlaneSize(raw: 0, encoded: 0)

    init(files: Int) { self.files = files }

    /// Source bytes over archive bytes (2.0: half the size).
    public var ratio: Double { archiveBytes == 0 ? 0 : Double(sourceBytes) / Double(archiveBytes) }

    /// Raw over encoded size of plane `plane` of `width`-byte elements, when any was packed.
    public func planeRatio(width: Int, plane: Int) -> Double? {
        guard let p = planes[width], plane < p.count, p[plane].encoded > 0 else { return nil }
        return Double(p[plane].raw) / Double(p[plane].encoded)
    }

    mutating func add(_ chunk: ArchiveWriter.PlannedChunk, _ encoded: ArchiveWriter.Encoded) {
        sourceBytes += chunk.size
        chunksByCodec[encoded.codec, default: 0] += 1
        if encoded.codec == .planes {
            var acc =
                planes[chunk.width]
                ?? Array(repeating: PlaneSize(raw: 0, encoded: 0), count: chunk.width)
            for (k, p) in encoded.planes.enumerated() where k < acc.count {
                acc[k].raw += p.raw
                acc[k].encoded += p.encoded
            }
            planes[chunk.width] = acc
        } else {
            plain.raw += chunk.size
            plain.encoded += encoded.payload.count
        }
    }
}

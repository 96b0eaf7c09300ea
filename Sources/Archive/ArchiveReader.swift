import Dispatch
import Formats
import Foundation

/// An opened archive: its validated tables, and reads of any file's byte range that
/// decompress only the chunks covering it.
///
/// Opening checks the header, the index CRC and every table entry (counts against the bytes
/// they take, chunks against files, payloads against the file), so no size from the archive
/// is trusted unchecked. Chunk payloads are checked (decoded size, CRC-32) when read.
///
/// ```swift
/// let archive = try ArchiveReader(path: "model.ckz")
/// for f in archive.files { print(f.path, f.size) }
/// let header = try archive.read(file: 0, offset: 0, count: 8)
/// ```
public final class ArchiveReader: Sendable {
    /// The archive's bytes (mapped when opened from a path).
    public let buffer: ByteBuffer
    /// Whether the source was a directory (else a single file, `files[0]`).
    public let isDirectory: Bool
    /// The files, in archive order.
    public let files: [ArchivedFile]
    /// The chunk table.
    public let chunks: [ChunkEntry]

    /// Maps and validates the archive at `path`.
    public convenience init(path: String) throws(FormatError) {
        try self.init(buffer: ByteBuffer(mapping: path))
    }

    /// Validates an archive in memory (or mapped); `buffer.name` is used in errors.
    public init(buffer: ByteBuffer) throws(FormatError) {
        let index = try ArchiveIndex(parsing: buffer)
        self.buffer = buffer
        isDirectory = index.isDirectory
        files = index.files
        chunks = index.chunks
    }

    /// Index of the file at relative `path`.
    public func fileIndex(_ path: String) -> Int? { files.firstIndex { $0.path == path } }

    /// The error for chunk `i`: names its index, its file and its offset in that file.
    func chunkError(_ i: Int, _ message: String) -> FormatError {
        let c = chunks[i]
        return FormatError(
            .invalid("chunk \(i) of '\(files[c.file].path)' at offset \(c.fileOffset): \(message)"),
            file: buffer.name, offset: c.payloadOffset, field: "chunks[\(i)]")
    }

    /// Decodes chunk `i` into `out` (exactly its raw size), checking its CRC.
    func decode(_ i: Int, with coder: ChunkCoder, into out: UnsafeMutableRawBufferPointer)
        throws(FormatError)
    {
        let c = chunks[i]
        // In bounds: the index check placed every payload between the header and the index.
        let payload = UnsafeRawBufferPointer(
            rebasing: buffer.all.raw[c.payloadOffset..<(c.payloadOffset + c.payloadSize)])
        try coder.decode(payload, entry: c, into: out, error: { chunkError(i, $0) })
    }

    /// `count` bytes of file `file` from `offset`, decompressing only the chunks they span.
    ///
    /// - Throws: `FormatError` for a range outside the file or a damaged chunk.
    public func read(file: Int, offset: Int, count: Int) throws(FormatError) -> ByteBuffer {
        guard files.indices.contains(file) else {
            throw FormatError(.invalid("no file \(file) in the archive"), file: buffer.name)
        }
        let f = files[file]
        guard offset >= 0, count >= 0, offset <= f.size, count <= f.size - offset else {
            throw FormatError(
                .invalid("range \(offset)+\(count) outside '\(f.path)' (\(f.size) bytes)"),
                file: buffer.name)
        }
        // First chunk whose end is past `offset` (chunks of a file are in offset order).
        var lo = f.chunks.lowerBound
        var hi = f.chunks.upperBound
        while lo < hi {
            let mid = (lo + hi) / 2
            if chunks[mid].fileOffset + chunks[mid].rawSize <= offset {
                lo = mid + 1
            } else {
                hi = mid
            }
        }
        let end = offset + count
        var needed: [Int] = []
        var i = lo
        while i < f.chunks.upperBound && chunks[i].fileOffset < end {
            needed.append(i)
            i += 1
        }
        return try ByteBuffer.make(count: count, name: "\(buffer.name):\(f.path)") {
            out throws(FormatError) in
            // Whole chunks decode straight into the result; the (at most two) chunks cut by
            // the range decode aside and are copied in part. Ranges are disjoint.
            try decodeChunks(
                needed,
                destination: { i in
                    let c = chunks[i]
                    guard c.fileOffset >= offset, c.fileOffset + c.rawSize <= end else { return nil }
                    return UnsafeMutableRawBufferPointer(
                        rebasing: out[(c.fileOffset - offset)..<(c.fileOffset - offset + c.rawSize)])
                }
            ) { i, raw throws(FormatError) in
                let c = chunks[i]
                let from = max(offset, c.fileOffset)
                let to = min(end, c.fileOffset + c.rawSize)
                guard from < to else { return }
                UnsafeMutableRawBufferPointer(rebasing: out[(from - offset)..<(to - offset)])
                    .copyMemory(
                        from: UnsafeRawBufferPointer(
                            rebasing: raw[(from - c.fileOffset)..<(to - c.fileOffset)]))
            }
        }
    }

    /// The whole of file `file`.
    public func read(file: Int) throws(FormatError) -> ByteBuffer {
        try read(file: file, offset: 0, count: files[file].size)
    }

    /// Decodes `indexes` on all cores, each chunk straight into `destination(i)` when that
    /// gives a buffer of exactly its raw size, else into the worker's scratch and then handed
    /// to `body(i, raw)` on that worker. Chunks finish in no particular order, so callers put
    /// them in disjoint places (nothing is copied serially between parallel steps). Memory:
    /// one chunk of scratch per worker. On a damaged chunk, throws the error of the
    /// lowest-numbered one.
    func decodeChunks(
        _ indexes: [Int],
        destination: (Int) -> UnsafeMutableRawBufferPointer? = { _ in nil },
        _ body: (Int, UnsafeRawBufferPointer) throws(FormatError) -> Void
    ) throws(FormatError) {
        guard !indexes.isEmpty else { return }
        let pool = CoderPool(workers: ProcessInfo.processInfo.activeProcessorCount, level: 0)
        let workers = min(indexes.count, pool.coders.count)
        final class Errors: @unchecked Sendable {
            // Each chunk's slot is written by the one worker that decodes it; read after
            // concurrentPerform returns.
            var items: [FormatError?]
            init(_ n: Int) { items = Array(repeating: nil, count: n) }
        }
        let errors = Errors(indexes.count)
        let scratch = UnsafeMutableRawBufferPointer.allocate(
            byteCount: workers * Archive.maxChunkSize, alignment: 64)
        defer { scratch.deallocate() }
        nonisolated(unsafe) let slots = scratch
        withoutActuallyEscaping(destination) { destination in
            withoutActuallyEscaping(body) { body in
                // Unchecked: the callers' closures write disjoint ranges (their contract).
                nonisolated(unsafe) let (destination, body) = (destination, body)
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    let coder = pool.coders[w]
                    var j = w
                    while j < indexes.count {
                        let i = indexes[j]
                        let size = chunks[i].rawSize
                        do throws(FormatError) {
                            if let out = destination(i), out.count == size {
                                try decode(i, with: coder, into: out)
                            } else {
                                let slot = UnsafeMutableRawBufferPointer(
                                    rebasing: slots[
                                        (w * Archive.maxChunkSize)..<(w * Archive.maxChunkSize + size)])
                                try decode(i, with: coder, into: slot)
                                try body(i, UnsafeRawBufferPointer(slot))
                            }
                        } catch {
                            errors.items[j] = error
                        }
                        j += workers
                    }
                }
            }
        }
        if let e = errors.items.lazy.compactMap({ $0 }).first { throw e }
    }

    /// Decodes every chunk and checks its CRC, writing nothing.
    public func verify() throws(FormatError) {
        try decodeChunks(Array(chunks.indices)) { _, _ throws(FormatError) in }
    }
}

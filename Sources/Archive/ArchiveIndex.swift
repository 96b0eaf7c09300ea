import Formats

/// The file and chunk tables of an archive (see `Archive` for the layout): serialized by the
/// writer after the payloads, parsed and fully validated by the reader before any chunk is
/// touched.
struct ArchiveIndex: Sendable {
    var isDirectory: Bool
    var files: [ArchivedFile]
    var chunks: [ChunkEntry]

    /// The header (32 bytes) for an index at `offset` of `size` bytes.
    func header(indexOffset: Int, indexSize: Int) -> [UInt8] {
        var out = Archive.magic
        out.append(le: Archive.version)
        out.append(le: UInt32(isDirectory ? 1 : 0))
        out.append(le: UInt64(indexOffset))
        out.append(le: UInt64(indexSize))
        return out
    }

    /// The index bytes, CRC trailer included.
    func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.append(le: UInt32(files.count))
        out.append(le: UInt32(0))
        out.append(le: UInt64(chunks.count))
        for f in files {
            let path = Array(f.path.utf8)
            out.append(le: UInt32(path.count))
            out.append(contentsOf: path)
            out.append(le: UInt64(f.size))
            out.append(le: UInt64(f.chunks.lowerBound))
            out.append(le: UInt64(f.chunks.count))
            out.append(f.isCheckpoint ? 1 : 0)
        }
        for c in chunks {
            out.append(c.codec.rawValue)
            out.append(UInt8(c.width))
            out.append(c.isTensorData ? 1 : 0)
            out.append(0)
            out.append(le: UInt32(c.rawSize))
            out.append(le: UInt64(c.payloadOffset))
            out.append(le: UInt32(c.payloadSize))
            out.append(le: c.crc)
        }
        let crc = out.withUnsafeBytes { ChunkCoder.crc32($0) }
        out.append(le: crc)
        return out
    }

    /// Parses and validates the header and index of `buffer`.
    init(parsing buffer: ByteBuffer) throws(FormatError) {
        var r = ByteReader(buffer.all)
        let magic = try r.bytes(Archive.magic.count, "magic")
        guard magic.bytes == Archive.magic else {
            throw r.error(.invalid("not a ckpt archive (bad magic)"), field: "magic", at: 0)
        }
        let version = try r.read(UInt32.self, "version")
        guard version == Archive.version else {
            throw r.error(.unsupported("archive version \(version)"), field: "version", at: 8)
        }
        let flags = try r.read(UInt32.self, "flags")
        guard flags & ~1 == 0 else {
            throw r.error(.invalid("unknown flags \(hex(flags))"), field: "flags", at: 12)
        }
        isDirectory = flags & 1 != 0
        let indexOffset = try r.read(UInt64.self, "index_offset")
        let indexSize = try r.read(UInt64.self, "index_size")
        guard indexOffset >= UInt64(Archive.headerSize), indexOffset <= UInt64(buffer.count),
            indexSize >= 20, indexSize <= UInt64(buffer.count) - indexOffset
        else {
            throw FormatError(
                .truncated(needed: Int(clamping: indexSize), available: buffer.count),
                file: buffer.name, offset: 16,
                field:
                    "index_offset \(indexOffset) + index_size \(indexSize) (file of \(buffer.count) bytes)"
            )
        }
        let payloadEnd = Int(indexOffset)
        let index = try buffer.all.slice(Int(indexOffset), Int(indexSize), field: "index")
        let body = try index.slice(0, index.count - 4, field: "index")
        let stored = index.raw.loadUnaligned(fromByteOffset: index.count - 4, as: UInt32.self)
            .littleEndian
        let crc = ChunkCoder.crc32(body.raw)
        guard crc == stored else {
            throw FormatError(
                .invalid("index crc32 mismatch (stored \(hex(stored)), computed \(hex(crc)))"),
                file: buffer.name, offset: index.offset + index.count - 4, field: "index.crc32")
        }

        var ir = ByteReader(body)
        let fileCount = Int(try ir.read(UInt32.self, "file_count"))
        _ = try ir.read(UInt32.self, "reserved")
        let chunkCount64 = try ir.read(UInt64.self, "chunk_count")
        // Counts are bounded by the bytes their entries take before anything is allocated.
        guard fileCount <= ir.remaining / Archive.minFileEntrySize else {
            throw ir.error(
                .limitExceeded("\(fileCount) files cannot fit in \(ir.remaining) index bytes"),
                field: "file_count", at: 0)
        }
        guard chunkCount64 <= UInt64(ir.remaining / Archive.chunkEntrySize) else {
            throw ir.error(
                .limitExceeded("\(chunkCount64) chunks cannot fit in \(ir.remaining) index bytes"),
                field: "chunk_count", at: 8)
        }
        let chunkCount = Int(chunkCount64)
        guard isDirectory || fileCount == 1 else {
            throw ir.error(
                .invalid("a single-file archive holds \(fileCount) files"), field: "file_count",
                at: 0)
        }

        var files: [ArchivedFile] = []
        files.reserveCapacity(fileCount)
        var seen = Set<String>()
        var nextChunk = 0
        for i in 0..<fileCount {
            let field = "files[\(i)]"
            let start = ir.offset
            let length = Int(try ir.read(UInt32.self, "\(field).path_length"))
            guard length <= Archive.maxPathLength else {
                throw ir.error(
                    .limitExceeded("path of \(length) bytes exceeds \(Archive.maxPathLength)"),
                    field: "\(field).path_length", at: start)
            }
            let path = try ir.string(length, "\(field).path")
            guard Self.isSafeRelativePath(path) else {
                throw ir.error(
                    .invalid("unsafe path '\(path)'"), field: "\(field).path", at: start + 4)
            }
            guard seen.insert(path).inserted else {
                throw ir.error(
                    .invalid("duplicate path '\(path)'"), field: "\(field).path", at: start + 4)
            }
            let size = try ir.read(UInt64.self, "\(field).size")
            let first = try ir.read(UInt64.self, "\(field).first_chunk")
            let count = try ir.read(UInt64.self, "\(field).chunk_count")
            let kind = try ir.read(UInt8.self, "\(field).kind")
            guard first == UInt64(nextChunk), count <= UInt64(chunkCount - nextChunk) else {
                throw ir.error(
                    .invalid(
                        "chunks \(first)..<\(first &+ count) do not follow chunk \(nextChunk) within \(chunkCount)"
                    ),
                    field: "\(field).first_chunk", at: ir.offset - 17)
            }
            guard kind <= 1 else {
                throw ir.error(
                    .invalid("unknown kind \(kind)"), field: "\(field).kind", at: ir.offset - 1)
            }
            guard size <= UInt64(Int.max) else {
                throw ir.error(
                    .limitExceeded("size \(size)"), field: "\(field).size", at: ir.offset - 25)
            }
            files.append(
                ArchivedFile(
                    path: path, size: Int(size), isCheckpoint: kind == 1,
                    chunks: nextChunk..<(nextChunk + Int(count))))
            nextChunk += Int(count)
        }
        guard nextChunk == chunkCount else {
            throw ir.error(
                .invalid("files cover \(nextChunk) of \(chunkCount) chunks"), field: "files",
                at: ir.offset)
        }

        var chunks: [ChunkEntry] = []
        chunks.reserveCapacity(chunkCount)
        var nextPayload = Archive.headerSize
        for f in files.indices {
            var fileOffset = 0
            for i in files[f].chunks {
                let field = "chunks[\(i)]"
                let at = ir.offset
                let codecByte = try ir.read(UInt8.self, "\(field).codec")
                let width = Int(try ir.read(UInt8.self, "\(field).width"))
                let flags = try ir.read(UInt8.self, "\(field).flags")
                _ = try ir.read(UInt8.self, "\(field).reserved")
                let rawSize = Int(try ir.read(UInt32.self, "\(field).raw_size"))
                let payloadOffset = try ir.read(UInt64.self, "\(field).payload_offset")
                let payloadSize = Int(try ir.read(UInt32.self, "\(field).payload_size"))
                let crc = try ir.read(UInt32.self, "\(field).crc32")
                guard let codec = ChunkCodec(rawValue: codecByte) else {
                    throw ir.error(
                        .invalid("unknown codec \(codecByte)"), field: "\(field).codec", at: at)
                }
                let widthOK = codec == .planes ? [2, 4, 8].contains(width) : width == 1
                guard widthOK, flags & ~1 == 0 else {
                    throw ir.error(
                        .invalid("width \(width) / flags \(flags) invalid for codec \(codec)"),
                        field: "\(field).width", at: at + 1)
                }
                guard rawSize <= Archive.maxChunkSize, rawSize % width == 0 else {
                    throw ir.error(
                        .limitExceeded(
                            "raw size \(rawSize) (limit \(Archive.maxChunkSize), width \(width))"),
                        field: "\(field).raw_size", at: at + 4)
                }
                // Payloads follow each other in chunk order, so they cannot overlap.
                guard payloadOffset == UInt64(nextPayload) else {
                    throw ir.error(
                        .invalid(
                            "payload at \(payloadOffset), expected \(nextPayload) (right after chunk \(i - 1))"
                        ),
                        field: "\(field).payload_offset", at: at + 8)
                }
                guard payloadSize <= payloadEnd - nextPayload else {
                    throw ir.error(
                        .invalid(
                            "payload of \(payloadSize) bytes at \(nextPayload) runs past the index at \(payloadEnd)"
                        ),
                        field: "\(field).payload_size", at: at + 16)
                }
                guard fileOffset <= files[f].size - rawSize else {
                    throw ir.error(
                        .invalid(
                            "chunk runs past the end of '\(files[f].path)' (\(files[f].size) bytes)"
                        ),
                        field: "\(field).raw_size", at: at + 4)
                }
                chunks.append(
                    ChunkEntry(
                        codec: codec, width: width, isTensorData: flags & 1 != 0, rawSize: rawSize,
                        payloadOffset: nextPayload, payloadSize: payloadSize, crc: crc, file: f,
                        fileOffset: fileOffset))
                nextPayload += payloadSize
                fileOffset += rawSize
            }
            guard fileOffset == files[f].size else {
                throw ir.error(
                    .invalid(
                        "chunks of '\(files[f].path)' hold \(fileOffset) of its \(files[f].size) bytes"
                    ),
                    field: "files[\(f)].size", at: ir.offset)
            }
        }
        guard nextPayload == payloadEnd, ir.isAtEnd else {
            throw ir.error(
                .invalid(
                    "payloads end at \(nextPayload), index at \(payloadEnd); \(ir.remaining) stray index bytes"
                ),
                field: "index", at: ir.offset)
        }
        self.files = files
        self.chunks = chunks
    }

    init(isDirectory: Bool, files: [ArchivedFile], chunks: [ChunkEntry]) {
        self.isDirectory = isDirectory
        self.files = files
        self.chunks = chunks
    }

    /// A path that stays inside the destination: relative, no empty, `.` or `..` parts, no NUL.
    static func isSafeRelativePath(_ path: String) -> Bool {
        guard !path.isEmpty, !path.hasPrefix("/"), !path.utf8.contains(0) else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy {
            !$0.isEmpty && $0 != "." && $0 != ".."
        }
    }
}

extension [UInt8] {
    mutating func append<T: FixedWidthInteger>(le value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

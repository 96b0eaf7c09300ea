import Formats

/// Lossless compressed checkpoint archives (`.ckz`): a checkpoint file or a whole model
/// directory in one file, restored byte for byte, readable tensor by tensor without unpacking.
///
/// Model weights compress badly as a stream because the mantissa bytes of floats are noise,
/// while their sign/exponent bytes are highly predictable. So the bytes of floating tensors
/// (found through the format layer: `Checkpoint.open` on every file) are split into byte
/// planes (byte k of every element together) and each plane is compressed with zstd on its
/// own, or stored raw when zstd does not shrink it (ZipNN's idea, Hershcovitch et al. 2024).
/// Everything else (headers, metadata, integer and quantized tensors, other files) goes
/// through zstd as it is. Data is cut into chunks of at most 4 MiB, compressed and
/// decompressed in parallel, each with a CRC-32 of its raw bytes.
///
/// ## Byte layout (version 1, every integer little-endian)
///
/// ```
/// offset  size  field
///  0       8    magic 89 43 4B 5A 0D 0A 1A 0A ("\x89CKZ\r\n\x1A\n", PNG-style: catches
///               text-mode and 7-bit transfers)
///  8       4    version (1)
/// 12       4    flags: bit 0 = the source was a directory (else a single file)
/// 16       8    index_offset: where the index starts
/// 24       8    index_size: bytes of the index, trailer included
/// 32       …    chunk payloads, back to back, in chunk order (file order, then offset)
///
/// index (at index_offset, after every payload, so packing streams):
///  u32 file_count, u32 reserved (0), u64 chunk_count
///  file_count × file entry:
///    u32 path_length, path (UTF-8, relative, '/'-separated, no '.', '..' or empty parts)
///    u64 size, u64 first_chunk, u64 chunk_count
///    u8  kind (0 other file, 1 checkpoint whose tensor ranges were found)
///  chunk_count × chunk entry (24 bytes):
///    u8  codec (0 stored, 1 zstd frame, 2 byte planes)
///    u8  element width (planes: 2, 4 or 8 bytes; otherwise 1)
///    u8  flags: bit 0 = tensor data (else header, metadata or another file's bytes)
///    u8  reserved (0)
///    u32 raw_size (≤ 4 MiB; a multiple of the width)
///    u64 payload_offset, u32 payload_size
///    u32 crc32 of the chunk's raw bytes (zlib's CRC-32)
///  u32 crc32 of every index byte before it
///
/// byte-plane payload (codec 2), width w:
///  w × (u8 plane codec (0 stored, 1 zstd), u32 plane payload size), then the w plane
///  payloads. Each element (a little-endian integer of B = 8w bits) first has its sign
///  moved: bits B-2…B-9 move up to B-1…B-8 and bit B-1 moves to bit B-9
///  (w' = (w << 1) & 0xFF<<(B-8) | (w >> 8) & 1<<(B-9) | w & (1<<(B-9))-1). Plane k holds
///  byte k of every element, so plane w-1 holds all 8 exponent bits of BF16, F32 and F64
///  (F16: 5 exponent and 3 mantissa bits) and plane w-2 the sign and 7 mantissa bits.
/// ```
///
/// The files' chunk ranges partition `0..<chunk_count` in file order, a file's chunks cover it
/// exactly (the sum of their raw sizes is its size), and payloads lie between offset 32 and
/// the index. A reader checks all of that before it trusts any size.
public enum Archive {
    /// The first 8 bytes of every archive.
    public static let magic: [UInt8] = [0x89, 0x43, 0x4B, 0x5A, 0x0D, 0x0A, 0x1A, 0x0A]
    /// The layout version this module writes and reads.
    public static let version: UInt32 = 1
    /// Bytes before the first payload.
    public static let headerSize = 32
    /// Largest raw chunk: bounds both the memory a worker holds and any allocation sized by
    /// a chunk entry (the issue asks for chunks of at most 4 MiB).
    public static let maxChunkSize = 4 << 20
    /// Bytes of one chunk entry in the index.
    public static let chunkEntrySize = 24
    /// Smallest file entry (an empty path): 4 + 8 + 8 + 8 + 1.
    public static let minFileEntrySize = 29
    /// Longest path in the file table: Linux's PATH_MAX.
    public static let maxPathLength = 4096
    /// The extension `ckpt` recognises archives by.
    public static let fileExtension = "ckz"

    /// Whether the file at `path` starts with the archive magic.
    public static func isArchive(_ path: String) -> Bool {
        guard let buffer = try? ByteBuffer(mapping: path), buffer.count >= magic.count else {
            return false
        }
        return magic.indices.allSatisfy { buffer.all[$0] == magic[$0] }
    }
}

/// How a chunk's payload is encoded.
public enum ChunkCodec: UInt8, Sendable {
    /// The raw bytes as they are.
    case stored = 0
    /// One zstd frame.
    case zstd = 1
    /// Byte planes of elements `width` bytes wide, each stored or zstd.
    case planes = 2
}

/// One file of an archive.
public struct ArchivedFile: Sendable, Hashable {
    /// Relative path ('/'-separated); for a single-file archive, the source file's name.
    public var path: String
    /// Size of the restored file in bytes.
    public var size: Int
    /// Whether the file was opened as a checkpoint at packing time (its tensors were split).
    public var isCheckpoint: Bool
    /// The file's chunks: indexes into the archive's chunk table.
    public var chunks: Range<Int>
}

/// One chunk of the chunk table.
public struct ChunkEntry: Sendable, Hashable {
    public var codec: ChunkCodec
    /// Element width in bytes for `.planes`, 1 otherwise.
    public var width: Int
    /// Whether the bytes are tensor data (false: headers, metadata, other files).
    public var isTensorData: Bool
    public var rawSize: Int
    public var payloadOffset: Int
    public var payloadSize: Int
    public var crc: UInt32
    /// Index of the file the chunk belongs to, and its offset in that file (derived).
    public var file: Int
    public var fileOffset: Int
}

import Formats
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A checkpoint read straight out of an archive: its format, metadata and tensor list come
/// from the archived headers, and a tensor's bytes are decompressed from just the chunks that
/// hold it (`ckpt inspect x.ckz`, random access without unpacking).
///
/// How: the archived files are recreated as *sparse* files in a private temporary directory,
/// with only their non-tensor chunks (headers, metadata, small files) written; the holes cost
/// no disk. The format layer opens that copy as usual (so every format and model directory
/// works), and `bytes(of:)` maps each tensor slice it returns back to the archive. Formats
/// that may copy or transform tensor bytes on read (npz, npy, PyTorch) get their whole files
/// written instead, so what they read is always real data.
///
/// ```swift
/// let source = try ArchivedCheckpoint(path: "model.ckz")
/// let w = try source.bytes(of: source.tensors[0])
/// ```
public final class ArchivedCheckpoint: TensorSource, @unchecked Sendable {
    // Sendable: every stored property is immutable after init; the temporary directory is
    // removed only in deinit.
    public let archive: ArchiveReader
    private let inner: any TensorSource
    private let temporary: String
    /// Sparse file path → archive file index, for the files whose tensor data was left out.
    private let sparse: [String: Int]

    /// Opens the archive at `path` and the checkpoint inside it.
    public convenience init(path: String) throws(FormatError) {
        try self.init(archive: ArchiveReader(path: path))
    }

    /// Opens the checkpoint inside an opened archive.
    ///
    /// - Throws: `FormatError` for a damaged header chunk, or when the archived file or
    ///   directory is not a checkpoint the format layer reads.
    public init(archive: ArchiveReader) throws(FormatError) {
        self.archive = archive
        var template = Array((NSTemporaryDirectory() + "/ckpt-ckz-XXXXXX").utf8CString)
        guard
            template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress.unsafelyUnwrapped) })
                != nil
        else {
            throw FormatError(
                .io("cannot create a temporary directory: \(String(cString: strerror(errno)))"))
        }
        temporary = template.withUnsafeBufferPointer {
            String(cString: $0.baseAddress.unsafelyUnwrapped)
        }
        do {
            sparse = try Self.writeSparse(archive, under: temporary)
            let root = archive.isDirectory ? temporary : temporary + "/" + archive.files[0].path
            inner = try Checkpoint.open(root)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: temporary) }

    public var format: CheckpointFormat { inner.format }
    public var metadata: Metadata { inner.metadata }
    public var tensors: [TensorInfo] { inner.tensors }

    /// The tensor's bytes, decompressed from the chunks that hold them.
    public func bytes(of tensor: TensorInfo) throws(FormatError) -> ByteSlice {
        let slice = try inner.bytes(of: tensor)
        guard slice.buffer.isMapped, let file = sparse[slice.buffer.name] else { return slice }
        return try archive.read(file: file, offset: slice.offset, count: slice.count).all
    }

    /// Creates every archived file under `root`: whole for small and non-checkpoint files and
    /// for formats that may transform bytes on read, sparse (non-tensor chunks only) for
    /// safetensors and GGUF. Returns the sparse ones.
    static func writeSparse(_ archive: ArchiveReader, under root: String) throws(FormatError)
        -> [String: Int]
    {
        var sparse: [String: Int] = [:]
        for (i, f) in archive.files.enumerated() {
            let path = root + "/" + f.path
            try ArchiveReader.makeParent(of: f.path, under: root)
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw FormatError(
                    .io("cannot create: \(String(cString: strerror(errno)))"), file: path)
            }
            defer { close(fd) }
            guard ftruncate(fd, off_t(f.size)) == 0 else {
                throw FormatError(
                    .io("cannot size sparse copy: \(String(cString: strerror(errno)))"), file: path)
            }
            let headers = f.chunks.filter { !archive.chunks[$0].isTensorData }
            try archive.decodeChunks(headers) { c, raw throws(FormatError) in
                try FileIO.writeAll(fd, raw, at: archive.chunks[c].fileOffset, path: path)
            }
            guard headers.count < f.chunks.count else { continue }
            let format = try? Checkpoint.detectFormat(ByteBuffer(mapping: path))
            if format == .safetensors || format == .gguf {
                sparse[path] = i
            } else {
                let rest = f.chunks.filter { archive.chunks[$0].isTensorData }
                try archive.decodeChunks(rest) { c, raw throws(FormatError) in
                    try FileIO.writeAll(
                        fd, raw, at: archive.chunks[c].fileOffset, path: path)
                }
            }
        }
        return sparse
    }
}

extension Archive {
    /// Opens `path` for reading tensors: an archive (by its magic) through
    /// `ArchivedCheckpoint`, anything else through `Checkpoint.open`. What `ckpt inspect`
    /// calls, so archives inspect like any checkpoint.
    public static func openCheckpoint(_ path: String) throws(FormatError) -> any TensorSource {
        if isArchive(path) { return try ArchivedCheckpoint(path: path) }
        return try Checkpoint.open(path)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written under a temporary name beside its destination and renamed into place only
/// by `commit()`. Dropped without commit (an error, a thrown write), the temporary is removed.
public final class OutputFile {
    public let path: String
    public let temporaryPath: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private let bufferLimit = 1 << 20
    private var committed = false
    /// Bytes reserved on disk by `preallocate`.
    private var preallocated = 0
    /// Bytes written so far (the current file offset).
    public private(set) var position: Int = 0

    public init(path: String) throws(FormatError) {
        self.path = path
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let base = path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
        var template = Array("\(dir)/.\(base).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw FormatError(.io("cannot create: \(String(cString: strerror(errno)))"), file: path)
        }
        self.fd = fd
        temporaryPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        fchmod(fd, 0o644)
    }

    deinit {
        if !committed {
            if fd >= 0 { close(fd) }
            unlink(temporaryPath)
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws(FormatError) {
        if buffer.count + bytes.count > bufferLimit { try flush() }
        if bytes.count >= bufferLimit {
            try writeAll(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
        position += bytes.count
    }

    public func write(_ bytes: [UInt8]) throws(FormatError) {
        try bytes.withUnsafeBytes { b in Result { () throws(FormatError) in try write(b) } }.get()
    }

    public func write(_ s: String) throws(FormatError) { try write(Array(s.utf8)) }

    public func writeZeros(_ count: Int) throws(FormatError) {
        if count > 0 { try write([UInt8](repeating: 0, count: count)) }
    }

    /// Writes `bytes` at absolute file offset `offset` (buffered bytes are flushed first),
    /// for formats whose data order differs from the order tensors arrive in (safetensors
    /// sorts by dtype, callers stream in plan order). Does not move `position`.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(FormatError) {
        try flush()
        try positionedWrite(bytes, at: offset)
    }

    private func positionedWrite(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(FormatError) {
        try FileIO.writeAll(fd, bytes, at: offset, path: path)
    }

    /// A range of an `OutputFile` that several threads fill with positioned writes, in any
    /// order: how a conversion writes a large tensor piece by piece straight from small,
    /// cache-resident buffers instead of one tensor-sized buffer and one long write.
    ///
    /// Sendable: `pwrite(2)` to disjoint ranges of one descriptor is safe from any thread.
    public struct Region: @unchecked Sendable {
        let file: OutputFile
        /// Absolute file offset of the region's first byte.
        public let offset: Int
        /// Length of the region in bytes.
        public let count: Int

        /// Writes `bytes` at `relative` bytes into the region.
        /// - Throws: `FormatError` when the bytes would leave the region, or `.io`.
        public func write(_ bytes: UnsafeRawBufferPointer, at relative: Int) throws(FormatError) {
            guard relative >= 0, bytes.count <= count - min(relative, count) else {
                throw FormatError(
                    .invalid("\(bytes.count) bytes at \(relative) overflow a region of \(count)"),
                    file: file.path, offset: offset, field: "region")
            }
            try file.positionedWrite(bytes, at: offset + relative)
        }
    }

    /// The range `offset ..< offset + count` of the file, to be filled through `Region.write`
    /// (buffered bytes are flushed first). Does not move `position`.
    public func region(at offset: Int, count: Int) throws(FormatError) -> Region {
        try flush()
        return Region(file: self, offset: offset, count: count)
    }

    /// The next `count` bytes at `position`, to be filled through `Region.write`; `position`
    /// moves past them as if they had been written.
    public func reserve(_ count: Int) throws(FormatError) -> Region {
        try flush()
        guard lseek(fd, off_t(count), SEEK_CUR) >= 0 else {
            throw FormatError(.io("seek failed: \(String(cString: strerror(errno)))"), file: path)
        }
        let region = Region(file: self, offset: position, count: count)
        position += count
        return region
    }

    private func flush() throws(FormatError) {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { b in Result { () throws(FormatError) in try writeAll(b) } }.get()
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(FormatError) {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = Glibc.write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw FormatError(.io("write failed: \(String(cString: strerror(errno)))"), file: path)
            }
            left -= n
            p += n
        }
    }

    /// Reserves `size` bytes of disk for the file before any data is written (`FileIO.reserve`):
    /// a disk too small fails at once with nothing written, and the writes that follow skip the
    /// file system's block allocation. The file's size still grows only as bytes are written;
    /// `commit` gives back what the writes did not use.
    /// - Throws: `.io` when the disk cannot hold `size` bytes.
    public func preallocate(_ size: Int) throws(FormatError) {
        guard size > preallocated else { return }
        if try FileIO.reserve(fd, size, path: path) { preallocated = size }
    }

    /// Flushes, closes and renames into place.
    public func commit() throws(FormatError) {
        try flush()
        if preallocated > 0 {
            // Blocks reserved past the last written byte stay allocated unless given back.
            var st = stat()
            if fstat(fd, &st) == 0, Int(st.st_size) < preallocated {
                _ = ftruncate(fd, st.st_size)
            }
        }
        guard close(fd) == 0 else {
            fd = -1
            throw FormatError(.io("close failed: \(String(cString: strerror(errno)))"), file: path)
        }
        fd = -1
        guard rename(temporaryPath, path) == 0 else {
            throw FormatError(.io("rename failed: \(String(cString: strerror(errno)))"), file: path)
        }
        committed = true
    }
}

import Formats
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

extension ArchiveReader {
    /// Recreates the archived file or directory at `destination`, byte for byte (`ckpt unpack`).
    ///
    /// Everything is written into a temporary directory beside `destination` and renamed into
    /// place only once every chunk has decoded and matched its CRC: a damaged archive leaves
    /// nothing behind. An existing empty directory at `destination` is replaced.
    ///
    /// - Throws: `FormatError` naming the damaged chunk (index, file, offset), or the I/O
    ///   failure; `.invalid` when `destination` exists and is not an empty directory.
    public func extract(to destination: String) throws(FormatError) {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        var replaceEmptyDirectory = false
        if fm.fileExists(atPath: destination, isDirectory: &isDir) {
            let empty =
                isDir.boolValue
                && ((try? fm.contentsOfDirectory(atPath: destination).isEmpty) ?? false)
            guard empty else {
                throw FormatError(
                    .invalid("destination exists and is not an empty directory; not overwritten"),
                    file: destination)
            }
            replaceEmptyDirectory = true
        }
        let parent = destination.lastIndex(of: "/").map { String(destination[..<$0]) } ?? "."
        let base = destination.split(separator: "/").last.map(String.init) ?? destination
        var template = Array("\(parent.isEmpty ? "/" : parent)/.\(base).unpack-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer {
            mkdtemp($0.baseAddress.unsafelyUnwrapped)
        }
        guard made != nil else {
            throw FormatError(
                .io("cannot create a temporary directory: \(String(cString: strerror(errno)))"),
                file: destination)
        }
        let temporary = template.withUnsafeBufferPointer {
            String(cString: $0.baseAddress.unsafelyUnwrapped)
        }
        var committed = false
        defer { if !committed { try? fm.removeItem(atPath: temporary) } }
        // mkdtemp makes the directory 0700; a restored directory gets the usual mode.
        let mask = umask(0)
        umask(mask)
        chmod(temporary, 0o777 & ~mask)

        try writeFiles(under: temporary)

        let produced = isDirectory ? temporary : temporary + "/" + files[0].path
        if replaceEmptyDirectory { rmdir(destination) }
        guard rename(produced, destination) == 0 else {
            throw FormatError(
                .io("rename failed: \(String(cString: strerror(errno)))"), file: destination)
        }
        if !isDirectory { rmdir(temporary) }
        committed = true
    }

    /// Writes every file under `root` (which exists), decoding chunks in parallel batches.
    func writeFiles(under root: String) throws(FormatError) {
        // Empty files have no chunks: create every file (and its directories) up front.
        for f in files {
            let path = root + "/" + f.path
            if let slash = f.path.lastIndex(of: "/") {
                let dir = root + "/" + f.path[..<slash]
                do {
                    try FileManager.default.createDirectory(
                        atPath: dir, withIntermediateDirectories: true)
                } catch {
                    throw FormatError(.io("cannot create directory: \(error)"), file: dir)
                }
            }
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0, close(fd) == 0 else {
                throw FormatError(
                    .io("cannot create: \(String(cString: strerror(errno)))"), file: path)
            }
        }
        if files.count <= Self.concurrentWriteFiles {
            try writeFilesConcurrently(under: root)
            return
        }
        // Many files: chunks in file order, one file open at a time.
        var current = (file: -1, fd: Int32(-1))
        defer { if current.fd >= 0 { close(current.fd) } }
        func finish() throws(FormatError) {
            guard current.fd >= 0 else { return }
            let fd = current.fd
            current.fd = -1
            guard close(fd) == 0 else {
                throw FormatError(
                    .io("close failed: \(String(cString: strerror(errno)))"),
                    file: files[current.file].path)
            }
        }
        try decodeChunks(Array(chunks.indices)) { i, raw throws(FormatError) in
            let c = chunks[i]
            if c.file != current.file {
                try finish()
                let path = root + "/" + files[c.file].path
                let fd = open(path, O_WRONLY | O_CLOEXEC)
                guard fd >= 0 else {
                    throw FormatError(
                        .io("cannot open: \(String(cString: strerror(errno)))"), file: path)
                }
                current = (c.file, fd)
            }
            try Self.writeAll(current.fd, raw, at: c.fileOffset, path: files[c.file].path)
        }
        try finish()
    }

    /// Archives with up to this many files are written with every file open at once, each
    /// chunk by the worker that decoded it.
    static let concurrentWriteFiles = 256

    /// Every file open, chunks decoded and written (`pwrite` at their own offsets) on all cores.
    func writeFilesConcurrently(under root: String) throws(FormatError) {
        var fds: [Int32] = []
        defer { for fd in fds { close(fd) } }
        for f in files {
            let path = root + "/" + f.path
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw FormatError(.io("cannot open: \(String(cString: strerror(errno)))"), file: path)
            }
            fds.append(fd)
        }
        let descriptors = fds
        try decodeChunksConcurrently(Array(chunks.indices), destination: { _ in nil }) {
            i, raw throws(FormatError) in
            let c = chunks[i]
            try Self.writeAll(descriptors[c.file], raw, at: c.fileOffset, path: files[c.file].path)
        }
        for (k, fd) in fds.enumerated() {
            fds[k] = -1
            guard close(fd) == 0 else {
                throw FormatError(
                    .io("close failed: \(String(cString: strerror(errno)))"), file: files[k].path)
            }
        }
        fds = []
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String)
        throws(FormatError)
    {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        var at = offset
        while left > 0 {
            let n = pwrite(fd, p, left, off_t(at))
            if n < 0 {
                if errno == EINTR { continue }
                throw FormatError(
                    .io("write failed: \(String(cString: strerror(errno)))"), file: path)
            }
            left -= n
            p += n
            at += n
        }
    }
}

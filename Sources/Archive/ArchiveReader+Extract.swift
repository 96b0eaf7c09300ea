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

    /// Writes every file under `root` (which exists), decoding chunks on all cores.
    func writeFiles(under root: String) throws(FormatError) {
        // Empty files have no chunks: create every file (and its directories) up front.
        for f in files {
            let path = root + "/" + f.path
            try Self.makeParent(of: f.path, under: root)
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw FormatError(
                    .io("cannot create: \(String(cString: strerror(errno)))"), file: path)
            }
            // Every file's blocks reserved before any chunk decodes: a disk too small fails
            // here, with nothing decoded, and the chunk writes skip block allocation.
            do throws(FormatError) {
                try FileIO.reserve(fd, f.size, path: path)
            } catch {
                close(fd)
                throw error
            }
            guard close(fd) == 0 else {
                throw FormatError(
                    .io("cannot create: \(String(cString: strerror(errno)))"), file: path)
            }
        }
        // Chunks decode on all cores in no particular order; each worker writes its chunk at
        // the chunk's offset through its own descriptor (an open per chunk of up to 4 MiB
        // costs nothing next to the write, and no descriptor is shared between threads).
        try decodeChunks(Array(chunks.indices)) { i, raw throws(FormatError) in
            let c = chunks[i]
            let path = root + "/" + files[c.file].path
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw FormatError(.io("cannot open: \(String(cString: strerror(errno)))"), file: path)
            }
            do throws(FormatError) {
                try FileIO.writeAll(fd, raw, at: c.fileOffset, path: files[c.file].path)
            } catch {
                close(fd)
                throw error
            }
            guard close(fd) == 0 else {
                throw FormatError(.io("close failed: \(String(cString: strerror(errno)))"), file: path)
            }
        }
    }

    /// Creates the directory that will hold `relative` under `root`, and its parents.
    static func makeParent(of relative: String, under root: String) throws(FormatError) {
        guard let slash = relative.lastIndex(of: "/") else { return }
        let dir = root + "/" + relative[..<slash]
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw FormatError(.io("cannot create directory: \(error)"), file: dir)
        }
    }
}

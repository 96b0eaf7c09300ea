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
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        var at = offset
        while left > 0 {
            let n = pwrite(fd, p, left, off_t(at))
            if n < 0 {
                if errno == EINTR { continue }
                throw FormatError(.io("write failed: \(String(cString: strerror(errno)))"), file: path)
            }
            left -= n
            p += n
            at += n
        }
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

    /// Flushes, closes and renames into place.
    public func commit() throws(FormatError) {
        try flush()
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
